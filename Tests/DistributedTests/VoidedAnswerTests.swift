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
        // The two real workers hold their first answers until the leaver's answer has been voided,
        // so that it is the first in, added to the total, and voided while the step still waits.
        let voided = VoidedAnswers()
        let done = DispatchGroup()
        for _ in 0..<2 {
            let faults = WorkerFaults(beforeAnswer: { step in if step == 1 { voided.waitForFirst() } })
            let worker = try Worker(endpoint: coordinator.endpoint, context: context, logger: Self.quiet, giveUpAfterSeconds: 60, faults: faults)
            done.enter()
            Thread { try? worker.run(); done.leave() }.start()
        }
        let leaver = try AnswerThenLeave(endpoint: coordinator.endpoint)
        var answered = false
        done.enter()
        Thread { answered = (try? leaver.answerFirstStepThenLeave()) ?? false; done.leave() }.start()
        let report = try coordinator.run(observer: voided)
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertTrue(answered, "the leaver never saw a step")
        XCTAssertEqual(voided.addedToTotal, [true], "the leaver's answer was added into the total before it was voided")
        XCTAssertEqual(report.step, 10)
        XCTAssertTrue(coordinator.parameters == single.parameters, "the void answer's sums stayed in the total")
    }
}

/// Sees the coordinator's `answer_voided` events, and lets workers wait for the first.
final class VoidedAnswers: TrainingObserver {
    private let condition = NSCondition()
    private var seen: [Bool] = []

    var addedToTotal: [Bool] { condition.withLock { seen } }

    func event(_ name: String, _ fields: [(String, JSONValue)]) {
        guard name == "answer_voided" else { return }
        condition.withLock {
            if case .bool(let added)? = fields.first(where: { $0.0 == "added_to_total" })?.1 { seen.append(added) }
            condition.broadcast()
        }
    }

    func waitForFirst() {
        condition.withLock { while seen.isEmpty { _ = condition.wait(until: Date(timeIntervalSinceNow: 30)) } }
    }
}

/// A member that answers its first step at once with sums that are not its chunks' gradient
/// (in range, so they are accepted), then says goodbye.
struct AnswerThenLeave {
    let member: HandDrivenMember

    init(endpoint: String) throws { member = try HandDrivenMember(endpoint: endpoint) }

    func answerFirstStepThenLeave() throws -> Bool {
        guard let first = try member.joinAndAwaitFirstStep(host: "leaver", offersSharedMemory: false) else { return false }
        let parameterCount = first.welcome.parameterCount
        // 2^40 in each value, packed in 6 bytes as a worker packs its sums (the fewest that hold them:
        // a wider packing than a chunk's sums can need is refused as impossible).
        let width = 6
        let sums = (0..<parameterCount).flatMap { _ in withUnsafeBytes(of: Int64(1 << 40).littleEndian) { Array($0.prefix(width)) } }
        try member.encoder.gradient(runID: first.runID, step: first.step, sampleCount: first.samples, lossSum: Double(first.samples),
                                    computeNanoseconds: 1, parameterCount: parameterCount, valueBytes: width)
        try sums.withUnsafeBytes { bulk in _ = try member.encoder.withFrames(bulk: bulk) { try member.socket.send($0, $1, $2) } }
        // The coordinator adds the answer into its total as it arrives, before it reads this goodbye.
        member.encoder.signal(.goodbye, runID: first.runID)
        try member.socket.send(copying: member.encoder.frames())
        return true
    }
}
