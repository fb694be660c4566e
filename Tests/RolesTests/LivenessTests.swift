import Wire
import XCTest
@testable import Roles

/// Liveness in virtual time: each rule is `machine.tick(now:)` and the actions it returns.
final class CoordinatorLivenessTests: XCTestCase {
    let ms: UInt64 = 1_000_000

    func training(workers: Int = 2) -> Machine {
        var m = machine(workers: workers, shards: 6)
        for peer in 1...workers { _ = m.receiveHello(Hello(host: "w\(peer)"), from: [UInt8(peer)], now: 0) }
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        return m
    }

    func lost(_ actions: [Machine.Action]) -> [Machine.Action] {
        actions.filter { if case .lost = $0 { true } else { false } }
    }

    func testHeartbeatsGoToEveryMemberEverySecond() {
        var m = training()
        XCTAssertEqual(m.tick(now: 999 * ms), [])
        XCTAssertEqual(m.tick(now: 1000 * ms), m.members.map { .heartbeat($0) })
        XCTAssertEqual(m.tick(now: 1500 * ms), [])
    }

    func testAMemberSilentPastTheLimitIsLost() {
        var m = training()
        _ = m.receiveHeartbeat(from: [1], now: 1500 * ms)
        XCTAssertEqual(lost(m.tick(now: 2000 * ms)), [])
        // Worker 2 was last heard at 0; the limit is the 2 s deadline.
        let two = m.members[1]
        XCTAssertEqual(lost(m.tick(now: 2001 * ms)), [.lost(two, .silent(seconds: 2))])
        XCTAssertEqual(m.members.map(\.id), [1])
        XCTAssertEqual(lost(m.tick(now: 3499 * ms)), [])
        XCTAssertEqual(lost(m.tick(now: 3501 * ms)).count, 1)
    }

    func testAStepPastItsDeadlineLosesExactlyTheAwaitedMembers() {
        var m = training(workers: 3)
        m.planStep(now: 0)
        // Six shards of chunks 2, 2, 2, 2, 1, 1: worker 2 holds shards 2 and 3.
        _ = m.receiveGradient(step: 1, answer(4, magnitude: 0), from: [2], now: 100 * ms)
        // Worker 2 answered; 1 and 3 keep sending heartbeats, but the step waits for their gradients.
        _ = m.receiveHeartbeat(from: [1], now: 1900 * ms)
        _ = m.receiveHeartbeat(from: [3], now: 1900 * ms)
        XCTAssertEqual(lost(m.tick(now: 1999 * ms)), [])
        let actions = m.tick(now: 2000 * ms)
        XCTAssertEqual(lost(actions).map { if case .lost(let member, let reason) = $0 { "\(member.id) \(reason.kind)" } else { "" } },
                       ["1 deadline", "3 deadline"])
        XCTAssertEqual(m.members.map(\.id), [2])
        // Their chunks in flight are asked of worker 2, which now holds every shard: the step trains the same samples.
        XCTAssertEqual(m.awaiting, [2: 1])
        XCTAssertEqual(m.stepRequests.last?.shards, [0, 1, 4, 5])
        guard case .accept = m.receiveGradient(step: 1, answer(6, magnitude: 0), from: [2], now: 2100 * ms) else { return XCTFail() }
        XCTAssertTrue(m.isStepComplete)
        m.completeStep()
        XCTAssertNil(m.assignment!.problem(sampleCount: 60))
    }

    func testAWaitingStepProbesItsAwaitedMembersEvery25MillisecondsForASecond() {
        var m = training()
        _ = m.tick(now: 0)
        m.planStep(now: 0)
        _ = m.receiveGradient(step: 1, answer(6, magnitude: 0), from: [1], now: 1 * ms)
        XCTAssertEqual(m.tick(now: 24 * ms), [])
        XCTAssertEqual(m.tick(now: 25 * ms), [.heartbeat(m.members[1])])
        XCTAssertEqual(m.tick(now: 40 * ms), [])
        XCTAssertEqual(m.tick(now: 50 * ms), [.heartbeat(m.members[1])])
        XCTAssertEqual(m.nanosecondsUntilDue(now: 60 * ms), 15 * ms)
        // After the first second only the heartbeats go out: a busy worker's queue does not fill.
        XCTAssertEqual(m.tick(now: 990 * ms), [.heartbeat(m.members[1])])
        XCTAssertEqual(m.tick(now: 1000 * ms), m.members.map { .heartbeat($0) })
        XCTAssertEqual(m.tick(now: 1030 * ms), [])
        XCTAssertEqual(m.nanosecondsUntilDue(now: 1030 * ms), 970 * ms)
    }

    /// A send that finds a full queue or a closed connection loses the member at the next tick,
    /// with the reason; the coordinator never waits on a peer.
    func testAFullQueueLosesTheMemberAtTheNextTick() {
        var m = training()
        m.planStep(now: 0)
        m.sendFailed(to: 2, .queueFull)
        m.sendFailed(to: 1, .unreachable)
        let actions = lost(m.tick(now: 1 * ms))
        XCTAssertEqual(actions.map { if case .lost(let member, let reason) = $0 { "\(member.id) \(reason.kind)" } else { "" } },
                       ["2 not_reading", "1 connection_gone"])
    }

    /// The end: a shutdown to every member, again every 200 ms to those that have not
    /// acknowledged, until all have or five seconds pass.
    func testShutdownIsResentUntilAcknowledged() {
        var m = training()
        let members = m.members
        XCTAssertEqual(m.finish(now: 0), members.map { .shutdown($0) })
        XCTAssertEqual(m.receiveGoodbye(from: [1], now: 10 * ms), [])
        XCTAssertEqual(m.tick(now: 199 * ms), [])
        XCTAssertEqual(m.tick(now: 200 * ms), [.shutdown(members[1])])
        XCTAssertEqual(m.phase, .finishing)
        _ = m.receiveGoodbye(from: [2], now: 300 * ms)
        XCTAssertEqual(m.tick(now: 301 * ms), [])
        XCTAssertEqual(m.phase, .finished)
    }

    func testShutdownGivesUpAfterTheLinger() {
        var m = training()
        _ = m.finish(now: 0)
        _ = m.tick(now: 4999 * ms)
        XCTAssertEqual(m.phase, .finishing)
        _ = m.tick(now: 5000 * ms)
        XCTAssertEqual(m.phase, .finished)
    }

    /// A worker of this run that missed the end and says hello again is told the run is over.
    func testAFinishedRunAnswersLateWorkersThatItIsOver() {
        var m = training()
        _ = m.finish(now: 0)
        XCTAssertEqual(refusal(m.receiveHello(Hello(previousWorkerID: 1, host: "w1"), from: [7], now: 10 * ms)), .runFinished)
        XCTAssertEqual(refusal(m.receiveHeartbeat(from: [8], now: 10 * ms)), .runFinished)
        XCTAssertEqual(refusal(m.receiveInvalid(.runMismatch(got: 42, expected: 1), from: [9], now: 10 * ms)), .runFinished)
    }
}

/// The worker's side in virtual time.
final class WorkerLivenessTests: XCTestCase {
    let ms: UInt64 = 1_000_000

    /// Hellos back off 0.1, 0.2, 0.4, 0.8, 1.6, then every 2 s.
    func testHellosBackOffFromATenthToTwoSeconds() {
        var w = WorkerStateMachine(giveUpAfterSeconds: 300, now: 0)
        var sent: [UInt64] = []
        for t in stride(from: UInt64(0), through: 9_000 * ms, by: Int(10 * ms)) where w.tick(now: t).contains(where: {
            if case .sendHello = $0 { true } else { false }
        }) { sent.append(t / ms) }
        XCTAssertEqual(sent, [0, 100, 300, 700, 1500, 3100, 5100, 7100] as [UInt64])
    }

    /// While no coordinator answers, the worker says why after a second, then every three, with the time left.
    func testExplainsItsWaitEveryThreeSeconds() {
        var w = WorkerStateMachine(giveUpAfterSeconds: 10, now: 0)
        var explained: [Double] = []
        for t in stride(from: UInt64(0), through: 9_500 * ms, by: Int(50 * ms)) {
            for case let .explainWait(_, left) in w.tick(now: t) { explained.append(left) }
        }
        XCTAssertEqual(explained, [9, 6, 3])
        XCTAssertLessThanOrEqual(w.nanosecondsUntilDue(now: 9_500 * ms), 501 * ms, "the give-up is due next")
    }

    func testGivesUpAfterItsSilenceLimit() {
        var w = WorkerStateMachine(giveUpAfterSeconds: 3, now: 0)
        _ = w.tick(now: 3000 * ms)
        XCTAssertEqual(w.state, .joining)
        _ = w.tick(now: 3001 * ms)
        XCTAssertEqual(w.state, .failed(.coordinatorSilent(seconds: 3)))
    }

    func testRejoinsAfterItsCoordinatorsSilence() {
        var w = WorkerStateMachine(giveUpAfterSeconds: 300, now: 0)
        XCTAssertTrue(w.receiveWelcome(workerID: 3, runID: 77, silenceSeconds: 5, now: 0))
        XCTAssertEqual(w.tick(now: 1000 * ms), [.sendHeartbeat])
        w.heard(now: 2000 * ms)
        XCTAssertEqual(w.tick(now: 7000 * ms), [.sendHeartbeat])
        XCTAssertEqual(w.tick(now: 7001 * ms), [.reconnect])
        XCTAssertEqual(w.state, .joining)
        XCTAssertEqual(w.tick(now: 7001 * ms), [.sendHello(previousWorkerID: 3)])
        // The give-up clock runs from the coordinator's last word (at 2 s), not from the rejoin.
        guard case let .explainWait(waited, left)? = w.tick(now: 8_001 * ms).first else { return XCTFail() }
        XCTAssertEqual(waited, 1, accuracy: 1e-9)
        XCTAssertEqual(left, 294, accuracy: 0.01)
    }

    func testRefusals() {
        var w = WorkerStateMachine(giveUpAfterSeconds: 300, now: 0)
        _ = w.receiveWelcome(workerID: 5, runID: 1, silenceSeconds: nil, now: 0)
        // A restarted coordinator: rejoin at once.
        XCTAssertEqual(w.receiveRefusal(.otherRun, "", runID: 1, now: 10 * ms), [.reconnect])
        XCTAssertEqual(w.tick(now: 10 * ms), [.sendHello(previousWorkerID: 5)])
        // Its id is taken in the new run (the checkpoint predates this worker): join as new.
        XCTAssertEqual(w.receiveRefusal(.duplicateID, "", runID: 2, now: 20 * ms), [])
        XCTAssertEqual(w.tick(now: 20 * ms), [.sendHello(previousWorkerID: 0)])
        // The run is over: stop, with success.
        _ = w.receiveRefusal(.runFinished, "", runID: 2, now: 30 * ms)
        XCTAssertEqual(w.state, .stopped(.trainingDone))
        var refused = WorkerStateMachine(giveUpAfterSeconds: 300, now: 0)
        _ = refused.receiveRefusal(.notAuthorised, "no", runID: 2, now: 0)
        XCTAssertEqual(refused.state, .failed(.refused(.notAuthorised, "no")))
    }

    func testShutdownIsAcknowledged() {
        var w = WorkerStateMachine(giveUpAfterSeconds: 300, now: 0)
        _ = w.receiveWelcome(workerID: 1, runID: 1, silenceSeconds: nil, now: 0)
        XCTAssertEqual(w.receiveShutdown(now: 0), [.sendGoodbye])
        XCTAssertEqual(w.state, .stopped(.trainingDone))
    }
}
