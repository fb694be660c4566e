import MLP
import Wire
import XCTest
@testable import Plan
@testable import Roles

/// Which answers the coordinator recomputes, which states it keeps, and what a mismatch does:
/// fed by hand, with a seeded generator in place of the operating system's.
final class VerificationTests: XCTestCase {
    let alice: [UInt8] = [1], bob: [UInt8] = [2]

    /// Two members from two hosts, verifying `fraction` of the answers.
    func started(fraction: Double) -> Machine {
        var settings = Machine.Settings(expectedWorkers: 2, stepDeadlineSeconds: 2, sampleCount: 60, batchSize: 10, shardCount: 2, seed: 1, epochs: 3)
        settings.verifyFraction = fraction
        var m = Machine(settings: settings)
        _ = m.receiveHello(Hello(host: "a"), from: alice, address: "10.0.0.1", now: 0)
        _ = m.receiveHello(Hello(host: "b"), from: bob, address: "10.0.0.2", now: 0)
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        return m
    }

    /// Plans the next step (returning its boundary's actions) and has both members answer it.
    @discardableResult
    func answeredStep(_ m: inout Machine) -> [Machine.Action] {
        guard case .step(let actions) = m.advance(now: 0) else { XCTFail("no step"); return [] }
        for peer in [alice, bob] {
            guard case .accept = m.receiveGradient(step: m.step, answer(5, magnitude: 0), from: peer, now: 0) else { XCTFail("not accepted"); return [] }
        }
        return actions
    }

    /// A generator whose every draw is the same: 0 checks everything the rate allows, a draw
    /// near 1 only what probation forces.
    struct Constant: RandomNumberGenerator {
        let value: UInt64
        mutating func next() -> UInt64 { value }
    }
    var checkAll = Constant(value: 0)
    var checkNone = Constant(value: .max)

    /// A member's first answer is always checked, its second at one half, the n-th at 1/n, never
    /// below the run's fraction; a fraction of 0 checks nothing.
    func testProbationThenTheFraction() {
        XCTAssertTrue(Machine.checks(draw: 0.999, answered: 0, fraction: 0.02))
        XCTAssertTrue(Machine.checks(draw: 0.49, answered: 1, fraction: 0.02))
        XCTAssertFalse(Machine.checks(draw: 0.5, answered: 1, fraction: 0.02))
        XCTAssertTrue(Machine.checks(draw: 0.0999, answered: 9, fraction: 0.02))
        XCTAssertFalse(Machine.checks(draw: 0.1, answered: 9, fraction: 0.02))
        XCTAssertTrue(Machine.checks(draw: 0.0199, answered: 10_000, fraction: 0.02))
        XCTAssertFalse(Machine.checks(draw: 0.02, answered: 10_000, fraction: 0.02))
        XCTAssertFalse(Machine.checks(draw: 0, answered: 0, fraction: 0))
        XCTAssertTrue(Machine.checks(draw: 0.999, answered: 10_000, fraction: 1))
    }

    /// The run's state is kept before a step some member's answer may go unchecked in, and let go
    /// once no member's first unchecked answer follows it.
    func testSnapshotsBeforeAMembersFirstUncheckedAnswer() {
        var m = started(fraction: 0.02)
        // Step 1: both members are on probation, so a snapshot of step 0 is kept; both answers checked.
        XCTAssertEqual(answeredStep(&m), [.keepSnapshot(step: 0)])
        XCTAssertEqual(m.answersToVerify(using: &checkAll, diverging: false), [0, 1])
        m.completeStep()
        // Step 2: everything before was checked: the state after step 1 replaces step 0's. Nothing is checked.
        XCTAssertEqual(answeredStep(&m), [.dropSnapshot(step: 0), .keepSnapshot(step: 1)])
        XCTAssertEqual(m.answersToVerify(using: &checkNone, diverging: false), [])
        XCTAssertEqual(m.unverifiedSince, [1: 2, 2: 2])
        m.completeStep()
        // Step 3: both have unchecked answers since step 2: step 1's state is what they roll back to; nothing new.
        XCTAssertEqual(answeredStep(&m), [])
        XCTAssertEqual(m.snapshotCourses.keys.sorted(), [1])
        // A step that looks diverged has every answer checked, whatever the draws.
        XCTAssertEqual(m.answersToVerify(using: &checkNone, diverging: true), [0, 1])
    }

    /// At a fraction of 1 every answer is checked before it is used: no state needs keeping.
    func testEveryAnswerCheckedNeedsNoSnapshot() {
        var m = started(fraction: 1)
        for _ in 0..<3 {
            XCTAssertEqual(answeredStep(&m), [])
            XCTAssertEqual(m.answersToVerify(using: &checkNone, diverging: false), [0, 1])
            m.completeStep()
        }
        XCTAssertEqual(m.unverifiedSince, [:])
    }

    /// A mismatch names and expels the member, refuses its host for the rest of the run, and rolls
    /// back to the state before its first unchecked answer: the step in flight is abandoned.
    func testAMismatchExpelsTheMemberAndRollsBackToBeforeItsFirstUncheckedAnswer() {
        var m = started(fraction: 0.02)
        answeredStep(&m)
        _ = m.answersToVerify(using: &checkAll, diverging: false)
        m.completeStep()
        answeredStep(&m)
        _ = m.answersToVerify(using: &checkNone, diverging: false)   // step 2 unchecked: roll back to 1 if needed
        m.completeStep()
        answeredStep(&m)
        XCTAssertEqual(m.step, 3)
        XCTAssertEqual(m.answersToVerify(using: &checkAll, diverging: false), [0, 1])
        let courseAfterStep1 = m.snapshotCourses[1]
        let actions = m.verificationFailed(request: 1, now: 0)
        guard case .verificationFailed(let member, 3) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(member.id, 2)
        XCTAssertTrue(actions.contains { if case .lost(let lost, .failedVerification(step: 3)) = $0 { lost.id == 2 } else { false } }, "\(actions)")
        XCTAssertEqual(actions.last, .rollBack(toStep: 1))
        XCTAssertEqual(shipped(actions).keys.sorted(), [1], "bob's shard goes to alice")
        XCTAssertEqual(m.step, 1)
        XCTAssertEqual(m.course, courseAfterStep1)
        XCTAssertFalse(m.stepInFlight)
        XCTAssertEqual(m.members.map(\.id), [1])
        XCTAssertEqual(m.unverifiedSince, [:], "alice's unchecked answers after step 1 are undone")
        // Step 2 is trained again, by alice alone, with both shards.
        guard case .step = m.advance(now: 0) else { return XCTFail() }
        XCTAssertEqual(m.step, 2)
        XCTAssertEqual(m.stepRequests.map(\.shards), [[0, 1]])
        // Bob's host is refused for the rest of the run.
        XCTAssertEqual(refusal(m.receiveHello(Hello(host: "b"), from: [3], address: "10.0.0.2", now: 100 * Self.second)), .notAuthorised)
        XCTAssertEqual(m.expelled, ["10.0.0.2"])
    }

    /// Every earlier answer of the liar was checked: only the step in flight is trained again.
    func testAMismatchWithEveryEarlierAnswerCheckedRedoesTheStep() {
        var m = started(fraction: 1)
        answeredStep(&m)
        _ = m.answersToVerify(using: &checkNone, diverging: false)
        m.completeStep()
        answeredStep(&m)
        _ = m.answersToVerify(using: &checkNone, diverging: false)
        XCTAssertEqual(m.verificationFailed(request: 0, now: 0).last, .rollBack(toStep: 1))
        XCTAssertEqual(m.step, 1)
        XCTAssertEqual(m.course.stepsDone, 1)
        guard case .step = m.advance(now: 0) else { return XCTFail() }
        XCTAssertEqual(m.step, 2)
        XCTAssertEqual(m.members.map(\.id), [2])
    }
}
