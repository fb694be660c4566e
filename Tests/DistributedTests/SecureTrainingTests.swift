import Dataset
import Foundation
import Logging
import MLP
import Plan
import Roles
import Training
import Wire
import XCTest
import ZMQ
@testable import Distributed

/// Coordinators serving CURVE in this process, workers on threads, over real tcp sockets.
final class SecureTrainingTests: XCTestCase {
    var mnist: MNIST { DistributedTrainingTests.mnist }
    override class func setUp() {
        BLAS.useOneThread()
        signal(SIGPIPE, SIG_IGN)   // as the commands do: a peer gone shows as EPIPE
    }

    /// A secured run of `workers` workers; `whileTraining` gets the endpoint and the coordinator's
    /// public key after the first step. `admitted` are further keys the coordinator admits.
    func secureRun(_ config: TrainingConfig, workers: Int, train: LabeledImages, test: LabeledImages, maxWorkers: Int = .max,
                   admitted: [CurveKeyPair] = [], whileTraining: ((String, String) -> Void)? = nil) throws -> (Coordinator, [Authenticator.Refusal]) {
        let context = try Context()
        let coordinatorKeys = try CurveKeyPair.generate()
        let workerKeys = try (0..<workers).map { _ in try CurveKeyPair.generate() }
        let refusals = RefusalList()
        let authenticator = try Authenticator(context: context, authorizedKeys: Set((workerKeys + admitted).map(\.publicKey)),
                                              onRefusal: { refusals.append($0) })
        let coordinator = try Coordinator(config: config, train: train, test: test, options: CoordinatorOptions(workers: workers, maxWorkers: maxWorkers),
                                          endpoint: "tcp://127.0.0.1:*", context: context, logger: DistributedTrainingTests.quiet,
                                          security: .curveServer(coordinatorKeys, authenticator))
        let done = DispatchGroup()
        for keys in workerKeys {
            let worker = try Worker(endpoint: coordinator.endpoint, context: context, logger: DistributedTrainingTests.quiet, giveUpAfterSeconds: 60,
                                    security: .curveClient(keys, serverKey: coordinatorKeys.publicKey))
            done.enter()
            Thread { try? worker.run(); done.leave() }.start()
        }
        let observer = FirstStep(coordinator, whileTraining.map { action in { action(coordinator.endpoint, coordinatorKeys.publicKey) } })
        _ = try coordinator.run(observer: observer)
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        return (coordinator, refusals.all)
    }

    /// A peer whose key is not admitted never gets a message to the coordinator: libzmq refuses it in the
    /// handshake, nothing it sends is decoded or counted, and the weights are those of a run without it.
    func testAnUnknownKeysMessagesNeverReachTheCoordinator() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE")
        var config = TrainingConfig.standard()
        config.epochs = 1
        config.batchSize = 50
        let train = mnist.train.subset(0..<5000), test = mnist.test.subset(0..<200)
        let intruder = try CurveKeyPair.generate()
        var sent = 0
        let (attacked, refusals) = try secureRun(config, workers: 2, train: train, test: test) { endpoint, serverKey in
            guard let rogue = try? RoguePeer(endpoint: endpoint, security: .curveClient(intruder, serverKey: serverKey)) else { return }
            for frames in [[Array("DPTR".utf8)], [[], [], []], Array(repeating: [1, 2, 3], count: 12)] {
                if (try? rogue.socket.send(copying: frames, .dontWait)) == true { sent += 1 }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        let (clean, _) = try secureRun(config, workers: 2, train: train, test: test)
        XCTAssertEqual(attacked.machine.droppedCount, 0, "\(attacked.machine.dropped)")
        XCTAssertEqual(attacked.parameters, clean.parameters)
        XCTAssertEqual(refusals.map(\.publicKey), [intruder.publicKey])
        // ZMQ_IMMEDIATE is off for this socket: libzmq queued the messages; they went nowhere.
        XCTAssertEqual(sent, 3)
    }

    /// The rogue-peer test with keys on and the rogue holding an admitted key: the decoder and the state
    /// machine still drop every bad message, and the weights are those of a run without it.
    func testAnAdmittedRoguesMessagesAreStillDropped() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE")
        var config = TrainingConfig.standard()
        config.epochs = 1
        config.batchSize = 50
        let train = mnist.train.subset(0..<5000), test = mnist.test.subset(0..<200)
        let rogueKeys = try CurveKeyPair.generate()
        var sent = 0
        let (attacked, _) = try secureRun(config, workers: 2, train: train, test: test, maxWorkers: 2, admitted: [rogueKeys]) { endpoint, serverKey in
            // A rogue whose thread is scheduled late, as on a loaded machine: the run waits for it (`FirstStep`).
            Thread.sleep(forTimeInterval: 0.5)
            sent = (try? RoguePeer(endpoint: endpoint, security: .curveClient(rogueKeys, serverKey: serverKey)).sendEverything()) ?? -1
        }
        let (clean, _) = try secureRun(config, workers: 2, train: train, test: test)
        XCTAssertGreaterThan(sent, 10)
        XCTAssertEqual(attacked.machine.droppedCount, sent, "\(attacked.machine.dropped)")
        XCTAssertEqual(attacked.parameters, clean.parameters)
    }

    /// A second admitted key says hello under the first worker's id over a real socket.
    func testASecondKeyUnderAnAdmittedWorkersIdIsRefused() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE")
        let context = try Context()
        let coordinatorKeys = try CurveKeyPair.generate(), aliceKeys = try CurveKeyPair.generate(), malloryKeys = try CurveKeyPair.generate()
        let authenticator = try Authenticator(context: context, authorizedKeys: [aliceKeys.publicKey, malloryKeys.publicKey], onRefusal: { _ in })
        var config = TrainingConfig.standard()
        config.epochs = 1
        config.batchSize = 32
        let coordinator = try Coordinator(config: config, train: mnist.train.subset(0..<3200), test: mnist.test.subset(0..<100),
                                          options: CoordinatorOptions(workers: 1), endpoint: "tcp://127.0.0.1:*", context: context,
                                          logger: DistributedTrainingTests.quiet, security: .curveServer(coordinatorKeys, authenticator))
        let alice = try Worker(endpoint: coordinator.endpoint, context: context, logger: DistributedTrainingTests.quiet,
                               giveUpAfterSeconds: 30, security: .curveClient(aliceKeys, serverKey: coordinatorKeys.publicKey))
        let done = DispatchGroup()
        done.enter()
        Thread { try? alice.run(); done.leave() }.start()

        var answer: Envelope?
        let observer = FirstStep(coordinator) {
            // Mallory is admitted by the ZAP handler, so she gets through the handshake; her hello names worker 1.
            guard let socket = try? Socket(context, .dealer) else { return }
            try? socket.apply(.curveClient(malloryKeys, serverKey: coordinatorKeys.publicKey))
            try? socket.set(.receiveTimeout, 10_000)
            try? socket.connect(coordinator.endpoint)
            var encoder = MessageEncoder()
            try? encoder.hello(Hello(previousWorkerID: 1, host: "mallory"))
            _ = try? encoder.withFrames { try socket.send($0) }
            if let reply = try? socket.receive() {
                answer = try? decode(frames: reply, context: DecodeContext(receiver: .worker))
            }
        }
        _ = try coordinator.run(observer: observer)
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        guard case .refuse(let refusal)? = answer?.body else { return XCTFail("no refusal for mallory: \(String(describing: answer))") }
        XCTAssertEqual(refusal.reason, .notAuthorised)
        XCTAssertTrue(refusal.text.contains("worker id 1 belongs to another worker's key"), refusal.text)
        XCTAssertEqual(coordinator.machine.allMembers.map(\.key), [aliceKeys.publicKey])
        XCTAssertEqual(alice.stepsDone, 100)
    }
}

final class RefusalList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Authenticator.Refusal] = []
    func append(_ refusal: Authenticator.Refusal) { lock.withLock { list.append(refusal) } }
    var all: [Authenticator.Refusal] { lock.withLock { list } }
}
