import Foundation
import MLP
import Wire
import XCTest
@testable import Plan
@testable import Roles

typealias Machine = CoordinatorStateMachine

/// Helpers: a machine of 60 samples in 2 shards, global batch 10, deadline 2 s; time in nanoseconds from 0.
extension XCTestCase {
    static let second: UInt64 = 1_000_000_000

    func machine(workers: Int = 2, maxWorkers: Int = .max, samples: Int = 60, batch: Int = 10, shards: Int = 2, deadline: Double = 2) -> Machine {
        Machine(settings: .init(expectedWorkers: workers, maxWorkers: maxWorkers, stepDeadlineSeconds: deadline,
                                sampleCount: samples, batchSize: batch, shardCount: shards, seed: 1, epochs: 3))
    }

    /// The member a hello admitted.
    func admitted(_ actions: [Machine.Action], file: StaticString = #filePath, line: UInt = #line) -> Machine.Member? {
        guard actions.count == 1, case .welcome(let member, _) = actions[0] else {
            XCTFail("expected a welcome, got \(actions)", file: file, line: line)
            return nil
        }
        return member
    }

    /// An honest answer's figures for `samples` samples: none right, a loss of 2.3 each (an
    /// untrained net's), sums packed 5 bytes a value, the largest of magnitude `magnitude`.
    func answer(_ samples: Int, magnitude: UInt64) -> AnswerFigures {
        AnswerFigures(sampleCount: samples, lossSum: 2.3 * Double(samples), correct: 0, valueBytes: 5, largestMagnitude: magnitude)
    }

    func refusal(_ actions: [Machine.Action]) -> RefuseReason? {
        for case let .refuse(_, reason, _, _) in actions { return reason }
        return nil
    }

    /// Samples shipped by these actions, per member id.
    func shipped(_ actions: [Machine.Action]) -> [UInt32: [Int32]] {
        var result: [UInt32: [Int32]] = [:]
        for case let .ship(globals, member) in actions { result[member.id, default: []] += globals }
        return result
    }
}

/// The coordinator's decisions, fed message by message: no sockets, no clock.
final class CoordinatorStateMachineTests: XCTestCase {
    let alice: [UInt8] = [1], bob: [UInt8] = [2], mallory: [UInt8] = [9]

    func started(now: UInt64 = 0) -> Machine {
        var m = machine()
        _ = m.receiveHello(Hello(host: "a"), from: alice, now: now)
        _ = m.receiveHello(Hello(host: "b"), from: bob, now: now)
        _ = m.startTraining(now: now)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        m.planStep(now: now)
        return m
    }

    func testAdmitsUntilFullThenRefuses() {
        var m = machine(maxWorkers: 2)
        XCTAssertEqual(admitted(m.receiveHello(Hello(host: "a"), from: alice, now: 0))?.id, 1)
        XCTAssertFalse(m.isReadyToStart(now: 0))
        XCTAssertEqual(admitted(m.receiveHello(Hello(host: "b"), from: bob, now: 0))?.id, 2)
        XCTAssertTrue(m.isReadyToStart(now: 0))
        let refused = m.receiveHello(Hello(host: "m"), from: mallory, now: 0)
        XCTAssertEqual(refused.last, .refuse(mallory, .runFull, "this run has its 2 workers and does not take more", answeringRun: nil))
        XCTAssertEqual(m.members.map(\.id), [1, 2])
        XCTAssertEqual(m.dropped, ["refused_hello_run_full": 1])
    }

    /// Beyond the workers a run starts with, an early worker waits to join at the first step.
    func testExtraWorkerWhileGatheringJoinsAtTheFirstStep() {
        var m = machine(workers: 1, maxWorkers: 3)
        _ = m.receiveHello(Hello(host: "a"), from: alice, now: 0)
        let extra = admitted(m.receiveHello(Hello(host: "b"), from: bob, now: 0))!
        XCTAssertEqual(m.members.map(\.id), [1])
        XCTAssertEqual(m.joining, [extra])
        XCTAssertEqual(shipped(m.startTraining(now: 0)).mapValues(\.count), [1: 60])
        _ = m.receiveHeartbeat(from: bob, now: 0)
        let boundary = m.stepBoundary(now: 0)
        XCTAssertEqual(boundary.last, .joined(extra, samples: 30))
        XCTAssertEqual(shipped(boundary).mapValues(\.count), [2: 30])
        XCTAssertEqual(m.members.map(\.id), [1, 2])
    }

    func testHelloWithAnIdInUseIsRefused() {
        var m = machine(workers: 3)
        _ = m.receiveHello(Hello(host: "a"), from: alice, now: 0)
        XCTAssertEqual(refusal(m.receiveHello(Hello(previousWorkerID: 1, host: "m"), from: mallory, now: 0)), .duplicateID)
        XCTAssertEqual(m.members.count, 1)
        XCTAssertEqual(m.droppedCount, 1)
    }

    /// With keys, an id belongs to the key it was first admitted with.
    func testAnIdIsBoundToItsKey() {
        var m = machine(workers: 1, maxWorkers: 3)
        _ = m.receiveHello(Hello(host: "a"), from: alice, key: "alice-key", now: 0)
        _ = m.startTraining(now: 0)
        // Alice is lost; Mallory, admitted with her own key, asks for Alice's id.
        _ = m.tick(now: 10 * Self.second)
        XCTAssertEqual(m.members, [])
        XCTAssertEqual(refusal(m.receiveHello(Hello(previousWorkerID: 1, host: "m"), from: mallory, key: "mallory-key", now: 10 * Self.second)),
                       .notAuthorised)
        // Alice herself gets her id back, once her key's backoff after her loss for silence is over.
        let later = 10 * Self.second + Liveness.firstRejoinBackoff
        XCTAssertEqual(admitted(m.receiveHello(Hello(previousWorkerID: 1, host: "a"), from: [3], key: "alice-key", now: later))?.id, 1)
    }

    /// The run's BLAS kernels are every worker's: other kernels round differently in the last bits.
    func testAWorkerOnOtherKernelsIsRefusedUnlessItAccepts() {
        var m = Machine(settings: .init(expectedWorkers: 2, sampleCount: 60, batchSize: 10, shardCount: 2, seed: 1, epochs: 1, blasCore: "SkylakeX"))
        XCTAssertEqual(admitted(m.receiveHello(Hello(host: "a", blasCore: "SkylakeX"), from: alice, now: 0))?.blasCore, "SkylakeX")
        let refused = m.receiveHello(Hello(host: "b", blasCore: "Haswell"), from: bob, now: 0)
        XCTAssertEqual(refused.last, .refuse(bob, .otherKernels, "this run computes on SkylakeX BLAS kernels and this worker on Haswell: "
                                             + "its gradients would differ in the last bits and the run would no longer give the same weights as one process; "
                                             + "run the worker with DPTRAIN_BLAS_CORE=SkylakeX if its CPU has them, or pass --accept-other-kernels to join anyway",
                                             answeringRun: nil))
        XCTAssertEqual(m.dropped, ["refused_hello_other_kernels": 1])
        XCTAssertEqual(admitted(m.receiveHello(Hello(host: "b", blasCore: "Haswell", acceptsOtherKernels: true), from: bob, now: 0))?.blasCore, "Haswell")
    }

    /// A bf16 run admits only workers that compute in bf16 natively; a float32 run admits any.
    func testAWorkerThatCannotComputeInBF16IsRefusedFromABF16Run() {
        var settings = Machine.Settings(expectedWorkers: 2, sampleCount: 60, batchSize: 10, shardCount: 2, seed: 1, epochs: 1)
        settings.compute = .bf16
        var m = Machine(settings: settings)
        let refused = m.receiveHello(Hello(host: "b"), from: bob, now: 0)
        XCTAssertEqual(refused.last, .refuse(bob, .noBF16, "this run computes in bf16 and this worker cannot: its CPU has neither AVX512-BF16 nor AMX "
                                             + "(or its dptrain predates --compute); run it on a CPU that has them, or train in float32",
                                             answeringRun: nil))
        XCTAssertEqual(m.dropped, ["refused_hello_no_bf16": 1])
        XCTAssertNotNil(admitted(m.receiveHello(Hello(host: "a", computesBF16: true), from: alice, now: 0)))

        var float32 = machine()
        XCTAssertNotNil(admitted(float32.receiveHello(Hello(host: "b"), from: bob, now: 0)))
    }

    func testSecondHelloFromAMemberIsDropped() {
        var m = machine()
        _ = m.receiveHello(Hello(host: "a"), from: alice, now: 0)
        XCTAssertEqual(m.receiveHello(Hello(host: "a"), from: alice, now: 0), [.dropped(.secondHello(worker: 1))])
        XCTAssertEqual(m.members.count, 1)
    }

    func testStepCompletesWhenEveryExpectedGradientIsIn() {
        var m = started()
        // One request each: a chunk of 5 from each member's shard.
        XCTAssertEqual(m.awaiting, [1: 1, 2: 1])
        XCTAssertEqual(m.stepRequests.map(\.shards), [[0], [1]])
        XCTAssertEqual(m.stepRequests.map(\.chunkSizes), [[5], [5]])
        guard case .accept(let member, 1) = m.receiveGradient(step: 1, answer(5, magnitude: 0), from: bob, now: 0) else { return XCTFail() }
        XCTAssertEqual(member.id, 2)
        XCTAssertFalse(m.isStepComplete)
        guard case .accept = m.receiveGradient(step: 1, answer(5, magnitude: 0), from: alice, now: 0) else { return XCTFail() }
        XCTAssertTrue(m.isStepComplete)
    }

    func testStaleFutureDuplicateAndStrangerGradientsAreDropped() {
        var m = started()
        // One chunk's fixed-point values stay below 2^51: up to it an answer is taken.
        guard case .accept = m.receiveGradient(step: 1, answer(5, magnitude: FixedPointFormat.chunkBound), from: alice, now: 0) else { return XCTFail() }
        XCTAssertEqual(m.receiveGradient(step: 1, answer(5, magnitude: 0), from: alice, now: 0), .drop(.gradientNotAwaited(worker: 1, step: 1)))
        XCTAssertEqual(m.receiveGradient(step: 2, answer(5, magnitude: 0), from: bob, now: 0), .drop(.futureGradient(worker: 2, step: 2, current: 1)))
        XCTAssertEqual(m.receiveGradient(step: 1, answer(5, magnitude: 0), from: mallory, now: 0), .drop(.fromStranger(.gradient)))
        XCTAssertFalse(m.isStepComplete)
        guard case .accept = m.receiveGradient(step: 1, answer(5, magnitude: 0), from: bob, now: 0) else { return XCTFail() }
        m.completeStep()
        m.planStep(now: 0)
        XCTAssertEqual(m.receiveGradient(step: 1, answer(5, magnitude: 0), from: bob, now: 0), .drop(.staleGradient(worker: 2, step: 1, current: 2)))
        XCTAssertEqual(m.dropped, ["gradient_not_awaited": 1, "future_gradient": 1, "gradient_from_stranger": 1, "stale_gradient": 1])
        XCTAssertEqual(Set(m.awaiting.keys), [1, 2])
    }

    func testGradientBeforeTrainingIsDropped() {
        var m = machine()
        _ = m.receiveHello(Hello(host: "a"), from: alice, now: 0)
        XCTAssertEqual(m.receiveGradient(step: 0, answer(10, magnitude: 0), from: alice, now: 0), .drop(.gradientBeforeTraining(worker: 1)))
    }

    /// A failure report is believed only from a member; a member's costs it its place, not the run.
    func testFailureReportLosesTheMemberNotTheRun() {
        var m = started()
        XCTAssertEqual(m.receiveFailure("NaN", from: mallory, now: 0), [.dropped(.fromStranger(.failure))])
        let actions = m.receiveFailure("NaN", from: alice, now: 0)
        guard case .lost(let lost, .reportedFailure("NaN")) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(lost.id, 1)
        XCTAssertEqual(m.phase, .training)
        XCTAssertEqual(shipped(actions).mapValues(\.count), [2: 30])
    }
}

/// Joining and leaving mid-run, and a resumed run keeping its workers' places.
final class CoordinatorMembershipTests: XCTestCase {
    func testWorkerJoiningMidRunTakesPartFromTheNextStepBoundary() {
        var m = machine(workers: 1, maxWorkers: 2)
        _ = m.receiveHello(Hello(host: "a"), from: [1], now: 0)
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        m.planStep(now: 0)
        let joiner = admitted(m.receiveHello(Hello(host: "b"), from: [2], now: 0))!
        XCTAssertEqual(m.members.map(\.id), [1])
        XCTAssertEqual(m.joining, [joiner])
        XCTAssertEqual(refusal(m.receiveHello(Hello(host: "c"), from: [3], now: 0)), .runFull)
        _ = m.receiveGradient(step: 1, answer(10, magnitude: 0), from: [1], now: 0)
        m.completeStep()
        // It takes part once it has spoken since its welcome (a worker's first heartbeat follows its welcome at once).
        XCTAssertEqual(m.stepBoundary(now: 0), [])
        XCTAssertEqual(m.receiveHeartbeat(from: [2], now: 0), [])
        XCTAssertEqual(m.stepBoundary(now: 0).last, .joined(joiner, samples: 30))
        XCTAssertEqual(m.members.map(\.id), [1, 2])
    }

    /// A hello's thread count is the member's weight: a worker of 3 threads is shipped and asked
    /// for three times the shards of one of 1, at the start and when it joins later.
    func testAWorkersThreadsSetItsShareOfTheShards() {
        var m = machine(workers: 2, maxWorkers: 3, samples: 120, batch: 8, shards: 8)
        XCTAssertEqual(admitted(m.receiveHello(Hello(host: "a", threads: 3), from: [1], now: 0))?.threads, 3)
        _ = m.receiveHello(Hello(host: "b"), from: [2], now: 0)
        XCTAssertEqual(shipped(m.startTraining(now: 0)).mapValues(\.count), [1: 90, 2: 30])
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        m.planStep(now: 0)
        XCTAssertEqual(m.stepRequests.map(\.shards.count), [6, 2])
        _ = m.receiveHello(Hello(host: "c", threads: 4), from: [3], now: 0)
        _ = m.receiveGradient(step: 1, answer(6, magnitude: 0), from: [1], now: 0)
        _ = m.receiveGradient(step: 1, answer(2, magnitude: 0), from: [2], now: 0)
        m.completeStep()
        _ = m.receiveHeartbeat(from: [3], now: 0)
        _ = m.stepBoundary(now: 0)
        // 3 : 1 : 4 of 8 shards.
        XCTAssertEqual(m.assignment?.holders.map(\.shards), [0..<3, 3..<4, 4..<8])
    }

    func testGoodbyeLosesTheMemberAndMovesItsShardAndItsChunkInFlight() {
        var m = machine()
        _ = m.receiveHello(Hello(host: "a"), from: [1], now: 0)
        _ = m.receiveHello(Hello(host: "b"), from: [2], now: 0)
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        m.planStep(now: 0)
        _ = m.receiveGradient(step: 1, answer(5, magnitude: 0), from: [1], now: 0)
        let chunkOfShard1 = m.assignment!.chunkSamples(shard: 1, step: m.course.stepsDone)
        let actions = m.receiveGoodbye(from: [2], now: 0)
        guard case .lost(let member, .left) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(member.id, 2)
        // Its shard of 30 samples goes to worker 1, which is asked for the same chunk of it.
        XCTAssertEqual(shipped(actions).mapValues(\.count), [1: 30])
        XCTAssertFalse(m.isStepComplete)
        XCTAssertEqual(m.stepRequests.map(\.state), [.answered, .void, .pending])
        XCTAssertEqual(m.stepRequests[2].member.id, 1)
        XCTAssertEqual(m.stepRequests[2].shards, [1])
        let holder = m.assignment!.holders[0]
        XCTAssertEqual(m.stepRequests[2].indices.map { m.assignment!.plan.shards[1][Int($0) - holder.offsets[1]!] }, chunkOfShard1)
        XCTAssertEqual(m.receiveGradient(step: 1, answer(5, magnitude: 0), from: [2], now: 0), .drop(.fromStranger(.gradient)))
        guard case .accept(_, 2) = m.receiveGradient(step: 1, answer(5, magnitude: 0), from: [1], now: 0) else { return XCTFail() }
        XCTAssertTrue(m.isStepComplete)
    }

    func testResumedRunGivesWorkersTheirIdsBackAndNewcomersFreshOnes() {
        let assignment = ShardAssignment(plan: ShardPlan(sampleCount: 60, shardCount: 2, batchSize: 10, seed: 1), holderIDs: [4, 7])
        var m = Machine(settings: .init(expectedWorkers: 2, sampleCount: 60, batchSize: 10, shardCount: 2, seed: 1, epochs: 30),
                        resuming: .init(step: 150, course: RunCourse(epochs: 30, stepsPerEpoch: 6), memberIDs: [4, 7], nextID: 8, assignment: assignment))
        XCTAssertEqual(admitted(m.receiveHello(Hello(previousWorkerID: 7, host: "b"), from: [1], now: 0))?.id, 7)
        // A newcomer never takes the place kept for worker 4, which may still come back.
        XCTAssertEqual(admitted(m.receiveHello(Hello(host: "new"), from: [2], now: 0))?.id, 8)
        // A worker of the old run that joined after the checkpoint keeps its id (9 was never handed out here).
        XCTAssertEqual(admitted(m.receiveHello(Hello(previousWorkerID: 9, host: "late"), from: [3], now: 0))?.id, 9)
        XCTAssertTrue(m.isReadyToStart(now: 0))
        // Worker 4 is back before training starts: its own place again, joining at the first step.
        XCTAssertEqual(admitted(m.receiveHello(Hello(previousWorkerID: 4, host: "a"), from: [4], now: 0))?.id, 4)
        XCTAssertEqual(m.members.map(\.id), [7, 8])
        XCTAssertEqual(m.joining.map(\.id), [9, 4])
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        m.planStep(now: 0)
        XCTAssertEqual(m.step, 151)
    }

    /// A coordinator restarted after a crash that took workers with it does not wait for
    /// --workers forever: it goes on with those that came back once the others had their time.
    func testRestartedRunGoesOnWithTheWorkersThatCameBack() {
        let assignment = ShardAssignment(plan: ShardPlan(sampleCount: 60, shardCount: 2, batchSize: 10, seed: 1), holderIDs: [4, 7])
        let settings = Machine.Settings(expectedWorkers: 4, stepDeadlineSeconds: 2, sampleCount: 60, batchSize: 10, seed: 1, epochs: 30, restarted: true)
        let resumed = Machine(settings: settings, resuming: .init(step: 150, course: RunCourse(epochs: 30, stepsPerEpoch: 6), memberIDs: [4, 7], nextID: 8, assignment: assignment))
        let wait = Liveness.resumeGatherWait(stepDeadline: 2 * Self.second)
        XCTAssertEqual(wait, 7 * Self.second)   // the workers' 5 s silence timeout and the last 2 s of hello backoff

        var m = resumed
        XCTAssertFalse(m.isReadyToStart(now: 100 * Self.second))   // nobody back: nothing to train with
        _ = m.receiveHello(Hello(previousWorkerID: 7, host: "b"), from: [1], now: Self.second)
        _ = m.receiveHello(Hello(host: "new"), from: [2], now: 2 * Self.second)
        XCTAssertFalse(m.isReadyToStart(now: Self.second + wait - 1))   // worker 4 may still come back
        XCTAssertTrue(m.isReadyToStart(now: Self.second + wait))
        _ = m.startTraining(now: Self.second + wait)
        XCTAssertEqual(m.members.map(\.id), [7, 8])

        // Every worker of the checkpoint back: no need to wait for --workers.
        m = resumed
        _ = m.receiveHello(Hello(previousWorkerID: 7, host: "b"), from: [1], now: 0)
        _ = m.receiveHello(Hello(previousWorkerID: 4, host: "a"), from: [2], now: 0)
        XCTAssertTrue(m.isReadyToStart(now: 0))

        // Restarted with no usable checkpoint: no worker is known to be back, so it waits out the time.
        m = Machine(settings: settings)
        _ = m.receiveHello(Hello(host: "a"), from: [1], now: 0)
        XCTAssertFalse(m.isReadyToStart(now: wait - 1))
        XCTAssertTrue(m.isReadyToStart(now: wait))

        // A fresh run waits for its --workers, however long.
        m = machine(workers: 2)
        _ = m.receiveHello(Hello(host: "a"), from: [1], now: 0)
        XCTAssertFalse(m.isReadyToStart(now: 1000 * Self.second))
    }

    /// Several members lost in the same instant: their shards go to members that stay, none to a
    /// member lost in the same instant, and their chunks of the step are asked of the new holders.
    func testLossesOfOneInstantMoveTheirShardsAndChunks() {
        var m = machine(workers: 5, samples: 1000, batch: 10, shards: 5, deadline: 2)
        for peer in 1...5 { _ = m.receiveHello(Hello(host: "w\(peer)"), from: [UInt8(peer)], now: 0) }
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        m.planStep(now: 0)
        // Workers 1 and 2 answer; 3, 4 and 5 go silent past the deadline.
        _ = m.receiveGradient(step: 1, answer(2, magnitude: 0), from: [1], now: Self.second)
        _ = m.receiveGradient(step: 1, answer(2, magnitude: 0), from: [2], now: Self.second)
        let actions = m.tick(now: 2 * Self.second + 1)
        let lost = actions.compactMap { if case .lost(let member, _) = $0 { member.id } else { nil } }
        XCTAssertEqual(lost, [3, 4, 5])
        let ships = shipped(actions)
        XCTAssertEqual(Set(ships.keys), [1, 2])
        let plan = m.assignment!.plan
        // Worker 1 now holds shards 0-1 (1 newly), worker 2 shards 2-4.
        XCTAssertEqual(ships[1], plan.shards[1])
        XCTAssertEqual(ships[2], plan.shards[2] + plan.shards[3] + plan.shards[4])
        // The lost workers' chunks, and only theirs, are asked again, of worker 2.
        let pending = m.stepRequests.filter { $0.state == .pending }
        XCTAssertEqual(pending.map(\.member.id), [2])
        XCTAssertEqual(pending[0].shards, [2, 3, 4])
        guard case .accept = m.receiveGradient(step: 1, answer(6, magnitude: 0), from: [2], now: 3 * Self.second) else { return XCTFail() }
        XCTAssertTrue(m.isStepComplete)
        m.completeStep()
        XCTAssertEqual(m.course.stepsDone, 1)
        XCTAssertNil(m.assignment!.problem(sampleCount: 1000))
    }
}

/// The run's course decided by the machine alone: the driver only carries out `advance`.
final class CoordinatorCourseTests: XCTestCase {
    /// A whole two-epoch run with one worker answering every step: the machine begins, steps,
    /// closes and ends exactly as the single process's course does, and asks for every sample of
    /// each epoch once.
    func testTheMachinesCourseIsTheSingleProcesss() {
        var m = Machine(settings: .init(expectedWorkers: 1, sampleCount: 60, batchSize: 10, shardCount: 2, seed: 1, epochs: 2))
        _ = m.receiveHello(Hello(host: "a"), from: [1], now: 0)
        _ = m.startTraining(now: 0)
        var reference = RunCourse(epochs: 2, stepsPerEpoch: 6)
        var asked: [Int: [UInt32]] = [:]
        while true {
            let expected = reference.next
            let course = m.advance(now: 0)
            switch (expected, course) {
            case (.beginEpoch(let e), .beginEpoch(let got)):
                XCTAssertEqual(got, e)
                reference.beginEpoch()
            case (.trainStep, .step):
                XCTAssertEqual(m.stepRequests.count, 1)
                asked[reference.epoch, default: []] += m.stepRequests[0].indices
                let count = m.stepRequests[0].indices.count
                guard case .accept = m.receiveGradient(step: m.step, answer(count, magnitude: 0), from: [1], now: 0) else { return XCTFail() }
                m.completeStep()
                reference.commitStep()
            case (.closeEpoch(let e), .closeEpoch(let got)):
                XCTAssertEqual(got, e)
                reference.closeEpoch()
            case (.endOfRun, .endOfRun):
                XCTAssertEqual(m.step, 12)
                XCTAssertEqual(asked.mapValues { Set($0).count }, [1: 60, 2: 60])
                XCTAssertNotEqual(asked[1], asked[2], "each epoch its own order")
                return
            default:
                return XCTFail("expected \(expected), the machine said \(course)")
            }
        }
    }

    /// A step whose every member was lost is trained again: the course does not move on.
    func testAnAbandonedStepIsTrainedAgain() {
        var m = Machine(settings: .init(expectedWorkers: 1, sampleCount: 60, batchSize: 10, shardCount: 2, seed: 1, epochs: 1))
        _ = m.receiveHello(Hello(host: "a"), from: [1], now: 0)
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        guard case .step = m.advance(now: 0) else { return XCTFail() }
        let first = m.stepRequests[0].indices
        _ = m.receiveGoodbye(from: [1], now: 0)
        m.completeStep()
        XCTAssertEqual(m.course.stepsDone, 0)
        XCTAssertEqual(m.advance(now: 0), .waitForWorkers([]))
        _ = m.receiveHello(Hello(host: "b"), from: [2], now: 0)
        XCTAssertEqual(m.advance(now: 0), .waitForWorkers([]), "a joiner takes part once it has spoken since its welcome")
        _ = m.receiveHeartbeat(from: [2], now: 0)
        guard case .step(let actions) = m.advance(now: 0) else { return XCTFail() }
        XCTAssertEqual(shipped(actions).mapValues(\.count), [2: 60])
        XCTAssertEqual(m.stepRequests[0].indices.count, first.count)
        XCTAssertEqual(m.course.next, .trainStep(stepInEpoch: 0))
    }
}

/// An early end of run (`--target-accuracy`, `--patience`) decided by the machine's course, fed
/// the epochs' scores: the driver only scores and carries out `advance`, and every worker is
/// told the run is over, as at its last epoch.
final class EarlyEndTests: XCTestCase {
    /// Trains one epoch of a one-worker run (every step answered, heartbeats ticking), returning what closed it.
    func trainEpoch(_ m: inout Machine, now: inout UInt64) -> Machine.Course {
        guard case .beginEpoch = m.advance(now: now) else { return m.advance(now: now) }
        while case .step = m.advance(now: now) {
            now += Self.second / 10
            _ = m.tick(now: now)
            let count = m.stepRequests[0].indices.count
            guard case .accept = m.receiveGradient(step: m.step, answer(count, magnitude: 0), from: [1], now: now) else {
                XCTFail("the answer was not taken")
                return .endOfRun
            }
            m.completeStep()
        }
        return .closeEpoch(m.course.epoch)
    }

    func started(stopping: StoppingRule, epochs: Int = 5) -> Machine {
        var settings = Machine.Settings(expectedWorkers: 1, sampleCount: 60, batchSize: 10, shardCount: 2, seed: 1, epochs: epochs)
        settings.stopping = stopping
        var m = Machine(settings: settings)
        _ = m.receiveHello(Hello(host: "a"), from: [1], now: 0)
        _ = m.startTraining(now: 0)
        return m
    }

    func testTheRunEndsAtTheFirstEpochThatReachesTheTarget() {
        var m = started(stopping: StoppingRule(targetAccuracy: 0.98))
        var now: UInt64 = 0
        XCTAssertEqual(trainEpoch(&m, now: &now), .closeEpoch(1))
        XCTAssertNil(m.epochScored(accuracy: 0.97))
        XCTAssertEqual(trainEpoch(&m, now: &now), .closeEpoch(2))
        XCTAssertEqual(m.epochScored(accuracy: 0.981), .targetReached(epoch: 2, accuracy: 0.981))
        XCTAssertEqual(m.advance(now: now), .endOfRun, "three epochs are left, but the target is reached")
        XCTAssertEqual(m.advance(now: now), .endOfRun)
        XCTAssertEqual(m.step, 12)
        XCTAssertEqual(m.finish(now: now), [.shutdown(m.members[0])], "the worker is told, so none waits")
    }

    func testTheRunEndsWhenPatienceRunsOut() {
        var m = started(stopping: StoppingRule(patience: 2), epochs: 6)
        var now: UInt64 = 0
        for (epoch, accuracy) in [(1, 0.90), (2, 0.95), (3, 0.95), (4, 0.94)] {
            XCTAssertEqual(trainEpoch(&m, now: &now), .closeEpoch(epoch))
            let end = m.epochScored(accuracy: accuracy)
            XCTAssertEqual(end, epoch == 4 ? .noImprovement(epoch: 4, bestEpoch: 2, bestAccuracy: 0.95) : nil, "epoch \(epoch)")
        }
        XCTAssertEqual(m.advance(now: now), .endOfRun)
    }

    func testWithoutARuleEveryEpochIsTrained() {
        var m = started(stopping: StoppingRule(), epochs: 2)
        var now: UInt64 = 0
        XCTAssertEqual(trainEpoch(&m, now: &now), .closeEpoch(1))
        XCTAssertNil(m.epochScored(accuracy: 1))
        XCTAssertEqual(trainEpoch(&m, now: &now), .closeEpoch(2))
        XCTAssertEqual(m.advance(now: now), .endOfRun)
    }

    /// A checkpoint keeps the best epoch and the early end: a resumed run that had reached its
    /// target is complete, and one that had not counts its patience from the best before it.
    func testACheckpointedCourseKeepsItsBestAndItsEnd() throws {
        var course = RunCourse(epochs: 9, stepsPerEpoch: 1, stopping: StoppingRule(patience: 2))
        for accuracy in [0.9, 0.8] {
            course.beginEpoch(); course.commitStep(); course.closeEpoch()
            course.scored(accuracy: accuracy)
        }
        var restored = try JSONDecoder().decode(RunCourse.self, from: JSONEncoder().encode(course))
        restored.beginEpoch(); restored.commitStep(); restored.closeEpoch()
        XCTAssertEqual(restored.scored(accuracy: 0.85), .noImprovement(epoch: 3, bestEpoch: 1, bestAccuracy: 0.9))
        XCTAssertTrue(try JSONDecoder().decode(RunCourse.self, from: JSONEncoder().encode(restored)).isFinished)
    }
}
