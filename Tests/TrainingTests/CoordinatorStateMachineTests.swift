import Wire
import XCTest
@testable import Training

/// The coordinator's decisions, fed message by message: no sockets, no clock.
final class CoordinatorStateMachineTests: XCTestCase {
    let alice: [UInt8] = [1], bob: [UInt8] = [2], mallory: [UInt8] = [9]

    func started() -> CoordinatorStateMachine {
        var machine = CoordinatorStateMachine(expectedWorkers: 2)
        _ = machine.receiveHello(Hello(host: "a"), from: alice)
        _ = machine.receiveHello(Hello(host: "b"), from: bob)
        machine.startTraining()
        machine.beginStep(1, expecting: [1, 2])
        return machine
    }

    func testAdmitsUntilFullThenRefuses() {
        var machine = CoordinatorStateMachine(expectedWorkers: 2, maxWorkers: 2)
        guard case .admit(let first) = machine.receiveHello(Hello(host: "a"), from: alice) else { return XCTFail() }
        XCTAssertEqual(first.id, 1)
        XCTAssertFalse(machine.isReadyToStart)
        guard case .admit(let second) = machine.receiveHello(Hello(host: "b"), from: bob) else { return XCTFail() }
        XCTAssertEqual(second.id, 2)
        XCTAssertTrue(machine.isReadyToStart)
        guard case .refuse(let peer, .runFull, _) = machine.receiveHello(Hello(host: "m"), from: mallory) else { return XCTFail() }
        XCTAssertEqual(peer, mallory)
        XCTAssertEqual(machine.members.map(\.id), [1, 2])
    }

    /// Beyond the workers a run starts with, an early worker waits to join at the first step.
    func testExtraWorkerWhileGatheringJoinsAtTheFirstStep() {
        var machine = CoordinatorStateMachine(expectedWorkers: 1, maxWorkers: 3)
        _ = machine.receiveHello(Hello(host: "a"), from: alice)
        guard case .admit(let extra) = machine.receiveHello(Hello(host: "b"), from: bob) else { return XCTFail() }
        XCTAssertEqual(machine.members.map(\.id), [1])
        XCTAssertEqual(machine.joining, [extra])
        XCTAssertTrue(machine.isReadyToStart)
        machine.startTraining()
        XCTAssertEqual(machine.stepBoundary(), [extra])
    }

    func testHelloWithAnIdInUseIsRefused() {
        var machine = CoordinatorStateMachine(expectedWorkers: 3)
        _ = machine.receiveHello(Hello(host: "a"), from: alice)
        guard case .refuse(_, .duplicateID, _) = machine.receiveHello(Hello(previousWorkerID: 1, host: "m"), from: mallory) else {
            return XCTFail()
        }
        XCTAssertEqual(machine.members.count, 1)
        XCTAssertEqual(machine.droppedCount, 1)
    }

    func testSecondHelloFromAMemberIsDropped() {
        var machine = CoordinatorStateMachine(expectedWorkers: 2)
        _ = machine.receiveHello(Hello(host: "a"), from: alice)
        guard case .drop = machine.receiveHello(Hello(host: "a"), from: alice) else { return XCTFail() }
        XCTAssertEqual(machine.members.count, 1)
    }

    func testStepCompletesWhenEveryExpectedGradientIsIn() {
        var machine = started()
        guard case .accept(let member) = machine.receiveGradient(step: 1, from: bob) else { return XCTFail() }
        XCTAssertEqual(member.id, 2)
        XCTAssertFalse(machine.isStepComplete)
        guard case .accept = machine.receiveGradient(step: 1, from: alice) else { return XCTFail() }
        XCTAssertTrue(machine.isStepComplete)
    }

    func testStaleFutureDuplicateAndStrangerGradientsAreDropped() {
        var machine = started()
        guard case .accept = machine.receiveGradient(step: 1, from: alice) else { return XCTFail() }
        guard case .drop(let duplicate) = machine.receiveGradient(step: 1, from: alice) else { return XCTFail() }
        XCTAssertTrue(duplicate.contains("does not wait for"))
        guard case .drop(let future) = machine.receiveGradient(step: 2, from: bob) else { return XCTFail() }
        XCTAssertTrue(future.contains("future step 2"))
        guard case .drop(let stranger) = machine.receiveGradient(step: 1, from: mallory) else { return XCTFail() }
        XCTAssertTrue(stranger.contains("not a worker"))
        XCTAssertFalse(machine.isStepComplete)
        guard case .accept = machine.receiveGradient(step: 1, from: bob) else { return XCTFail() }
        machine.beginStep(2, expecting: [1, 2])
        guard case .drop(let stale) = machine.receiveGradient(step: 1, from: bob) else { return XCTFail() }
        XCTAssertTrue(stale.contains("stale gradient for step 1"))
        XCTAssertEqual(machine.droppedCount, 4)
        XCTAssertEqual(machine.awaiting, [1, 2])
    }

    func testGradientBeforeTrainingIsDropped() {
        var machine = CoordinatorStateMachine(expectedWorkers: 2)
        _ = machine.receiveHello(Hello(host: "a"), from: alice)
        guard case .drop = machine.receiveGradient(step: 0, from: alice) else { return XCTFail() }
    }
}

/// Joining and leaving mid-run, and a resumed run keeping its workers' places.
final class CoordinatorMembershipTests: XCTestCase {
    func testWorkerJoiningMidRunTakesPartFromTheNextStepBoundary() {
        var machine = CoordinatorStateMachine(expectedWorkers: 1, maxWorkers: 2)
        _ = machine.receiveHello(Hello(host: "a"), from: [1])
        machine.startTraining()
        machine.beginStep(1, expecting: [1])
        guard case .admit(let joiner) = machine.receiveHello(Hello(host: "b"), from: [2]) else { return XCTFail() }
        XCTAssertEqual(machine.members.map(\.id), [1])
        XCTAssertEqual(machine.joining, [joiner])
        guard case .refuse(_, .runFull, _) = machine.receiveHello(Hello(host: "c"), from: [3]) else { return XCTFail() }
        XCTAssertEqual(machine.stepBoundary(), [joiner])
        XCTAssertEqual(machine.members.map(\.id), [1, 2])
    }

    func testLostMemberStopsCountingAtOnce() {
        var machine = CoordinatorStateMachine(expectedWorkers: 2)
        _ = machine.receiveHello(Hello(host: "a"), from: [1])
        _ = machine.receiveHello(Hello(host: "b"), from: [2])
        machine.startTraining()
        machine.beginStep(1, expecting: [1, 2])
        _ = machine.receiveGradient(step: 1, from: [1])
        XCTAssertEqual(machine.lose(2)?.id, 2)
        XCTAssertTrue(machine.isStepComplete)
        guard case .drop = machine.receiveGradient(step: 1, from: [2]) else { return XCTFail() }
        guard case .leave(let member) = machine.receiveGoodbye(from: [1]) else { return XCTFail() }
        XCTAssertEqual(member.id, 1)
    }

    func testResumedRunGivesWorkersTheirIdsBack() {
        var machine = CoordinatorStateMachine(expectedWorkers: 2, resumingAt: 150, memberIDs: [4, 7], nextID: 8)
        guard case .admit(let seven) = machine.receiveHello(Hello(previousWorkerID: 7, host: "b"), from: [1]) else { return XCTFail() }
        XCTAssertEqual(seven.id, 7)
        // A worker that never had a place fills the one still kept.
        guard case .admit(let newcomer) = machine.receiveHello(Hello(host: "new"), from: [2]) else { return XCTFail() }
        XCTAssertEqual(newcomer.id, 4)
        XCTAssertTrue(machine.isReadyToStart)
        machine.startTraining()
        machine.beginStep(151, expecting: [4, 7])
        XCTAssertEqual(machine.step, 151)
    }
}
