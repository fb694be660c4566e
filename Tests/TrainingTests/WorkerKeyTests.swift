import Dataset
import Foundation
import Logging
import Wire
import XCTest
import ZMQ
@testable import Training

/// A worker's id is bound to the CURVE key it joined with: no other key takes its place.
final class WorkerKeyTests: XCTestCase {
    let alice: CoordinatorStateMachine.Peer = [1], mallory: CoordinatorStateMachine.Peer = [2], aliceAgain: CoordinatorStateMachine.Peer = [3]

    func testALiveWorkersIdUnderAnotherKeyIsRefusedForGood() {
        var machine = CoordinatorStateMachine(expectedWorkers: 1, maxWorkers: 3)
        guard case .admit(let member) = machine.receiveHello(Hello(host: "a"), from: alice, key: "alice-key") else { return XCTFail() }
        XCTAssertEqual(member.key, "alice-key")
        // Not duplicateID, which a worker waits out and retries: another key never gets this id.
        guard case .refuse(mallory, .notAuthorised, let text) = machine.receiveHello(Hello(previousWorkerID: 1, host: "m"), from: mallory, key: "mallory-key") else {
            return XCTFail()
        }
        XCTAssertTrue(text.contains("worker id 1 belongs to another key"), text)
        XCTAssertEqual(machine.allMembers.map(\.id), [1])
    }

    func testALostWorkersIdWaitsForItsOwnKey() {
        var machine = CoordinatorStateMachine(expectedWorkers: 1, maxWorkers: 3)
        _ = machine.receiveHello(Hello(host: "a"), from: alice, key: "alice-key")
        machine.startTraining()
        machine.lose(1)
        guard case .refuse(_, .notAuthorised, _) = machine.receiveHello(Hello(previousWorkerID: 1, host: "m"), from: mallory, key: "mallory-key") else {
            return XCTFail()
        }
        // The same key on a new connection (the worker restarted) is admitted, and so is mallory as a newcomer.
        guard case .admit(let back) = machine.receiveHello(Hello(previousWorkerID: 1, host: "a"), from: aliceAgain, key: "alice-key") else { return XCTFail() }
        guard case .admit(let newcomer) = machine.receiveHello(Hello(host: "m"), from: mallory, key: "mallory-key") else { return XCTFail() }
        XCTAssertEqual([back.key, newcomer.key], ["alice-key", "mallory-key"])
        XCTAssertNotEqual(newcomer.id, 1)
    }

    func testWithoutKeysALostWorkersIdMayBeTakenBack() {
        var machine = CoordinatorStateMachine(expectedWorkers: 1, maxWorkers: 3)
        _ = machine.receiveHello(Hello(host: "a"), from: alice)
        machine.startTraining()
        machine.lose(1)
        guard case .admit(let back) = machine.receiveHello(Hello(previousWorkerID: 1, host: "a"), from: aliceAgain) else { return XCTFail() }
        XCTAssertNil(back.key)
    }
}

/// The same, end to end: a coordinator serving CURVE in this process, an admitted worker, and a
/// second admitted key that says hello under the first worker's id over a real socket.
final class SecureTrainingTests: XCTestCase {
    func testASecondKeyUnderAnAdmittedWorkersIdIsRefused() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE")
        let context = try Context()
        let coordinatorKeys = try CurveKeyPair.generate(), aliceKeys = try CurveKeyPair.generate(), malloryKeys = try CurveKeyPair.generate()
        let authenticator = try Authenticator(context: context, authorizedKeys: [aliceKeys.publicKey, malloryKeys.publicKey], onRefusal: { _ in })
        var config = TrainingConfig.standard()
        config.epochs = 1
        config.batchSize = 32
        let mnist = TrainingTests.mnist
        let coordinator = try Coordinator(config: config, train: mnist.train.subset(0..<3200), test: mnist.test.subset(0..<100),
                                          options: CoordinatorOptions(workers: 1), endpoint: "tcp://127.0.0.1:*", context: context,
                                          logger: DistributedTrainingTests.quiet, security: .curveServer(coordinatorKeys, authenticator))
        let alice = try Worker(endpoint: coordinator.endpoint, context: context, logger: DistributedTrainingTests.quiet,
                               giveUpAfterSeconds: 30, security: .curveClient(aliceKeys, serverKey: coordinatorKeys.publicKey))
        let done = DispatchGroup()
        done.enter()
        Thread { try? alice.run(); done.leave() }.start()

        var answer: Envelope?
        let observer = FirstStep {
            done.enter()
            Thread {
                defer { done.leave() }
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
            }.start()
        }
        _ = try coordinator.run(observer: observer)
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        guard case .refuse(let refusal)? = answer?.body else { return XCTFail("no refusal for mallory: \(String(describing: answer))") }
        XCTAssertEqual(refusal.reason, .notAuthorised)
        XCTAssertTrue(refusal.text.contains("worker id 1 belongs to another key"), refusal.text)
        XCTAssertEqual(coordinator.machine.allMembers.map(\.key), [aliceKeys.publicKey])
        XCTAssertEqual(alice.stepsDone, 100)
    }
}
