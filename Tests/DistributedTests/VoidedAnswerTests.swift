import Foundation
import Logging
import MLP
import Roles
import Training
import Wire
import XCTest
import ZMQ
@testable import Distributed

/// A member that answers a step and leaves before the step is done: its answer is void and its
/// chunks are computed again by the others. The coordinator adds answers into the total as they
/// arrive, so the void one must come out of it again: the run still ends with the single
/// process's weights, to the bit.
extension DistributedTrainingTests {
    func testAnAnswerVoidedAfterItWasAddedLeavesNoTrace() throws {
        var config = TrainingConfig.standard()
        config.epochs = 1
        config.batchSize = 96
        config.shards = 3
        let train = mnist.train.subset(0..<960), test = mnist.test.subset(0..<100)
        let single = try SingleProcessTrainer(config: config, train: train, test: test)
        try single.run()

        let context = try Context()
        let coordinator = try Coordinator(config: config, train: train, test: test, options: CoordinatorOptions(workers: 3),
                                          endpoint: "tcp://127.0.0.1:*", context: context, logger: Self.quiet)
        let done = DispatchGroup()
        for _ in 0..<2 {
            let worker = try Worker(endpoint: coordinator.endpoint, context: context, logger: Self.quiet, giveUpAfterSeconds: 60)
            worker.testStepDelay = 0.3   // still computing when the leaver's answer and goodbye arrive
            done.enter()
            Thread { try? worker.run(); done.leave() }.start()
        }
        let leaver = try AnswerThenLeave(endpoint: coordinator.endpoint)
        var answered = false
        done.enter()
        Thread { answered = (try? leaver.answerFirstStepThenLeave()) ?? false; done.leave() }.start()
        let report = try coordinator.run()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertTrue(answered, "the leaver never saw a step")
        XCTAssertEqual(report.step, 10)
        XCTAssertEqual(coordinator.parameters, single.parameters, "the void answer's sums stayed in the total")
    }
}

/// A member that answers its first step at once with sums that are not its chunks' gradient
/// (in range, so they are accepted), then says goodbye a tenth of a second later.
struct AnswerThenLeave {
    let socket: Socket
    let context: Context

    init(endpoint: String) throws {
        context = try Context()
        socket = try Socket(context, .dealer)
        try socket.set(.receiveTimeout, 10_000)
        try socket.connect(endpoint)
    }

    func answerFirstStepThenLeave() throws -> Bool {
        var encoder = MessageEncoder()
        try encoder.hello(Hello(host: "leaver", blasCore: BLAS.coreName, sharedMemory: nil))
        try socket.send(copying: encoder.frames())
        var runID: UInt64 = 0, parameterCount = 0
        while let message = try socket.receive(maxFrames: framesPerMessage) {
            let header = try Header(parsing: message[0])
            if header.type == .welcome, case .welcome(let welcome) = try decode(frames: message, context: DecodeContext(receiver: .worker)).body {
                runID = header.runID
                parameterCount = welcome.parameterCount
            }
            guard header.type == .step, parameterCount > 0 else { continue }
            let samples = UInt32(littleEndian: message[1].loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let sums = [Int64](repeating: 1 << 40, count: parameterCount)
            try encoder.gradient(runID: runID, step: header.step, sampleCount: samples, lossSum: Double(samples), computeNanoseconds: 1,
                                 parameterCount: parameterCount)
            try sums.withUnsafeBytes { bulk in _ = try encoder.withFrames(bulk: bulk) { try socket.send($0, $1, $2) } }
            // Long enough for the coordinator to take the answer into its total, well before the others answer.
            Thread.sleep(forTimeInterval: 0.1)
            encoder.signal(.goodbye, runID: runID)
            try socket.send(copying: encoder.frames())
            return true
        }
        return false
    }
}
