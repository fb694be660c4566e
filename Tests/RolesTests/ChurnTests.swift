import MLP
import Wire
import XCTest
@testable import Plan
@testable import Roles

/// Members that come and go to hold the run up, and floods of hellos: what the coordinator lets in.
final class ChurnTests: XCTestCase {
    let second = XCTestCase.second

    /// One worker training (machine deadline 2 s), from address 10.0.0.1.
    func training() -> Machine {
        var m = machine(workers: 1, shards: 2)
        _ = m.receiveHello(Hello(host: "a"), from: [1], address: "10.0.0.1", now: 0)
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        return m
    }

    /// A member from 10.0.0.9 that joins, takes part, and stalls the step until the deadline loses it.
    func stall(_ m: inout Machine, peer: [UInt8], at now: UInt64) -> [Machine.Action] {
        let welcomed = m.receiveHello(Hello(host: "staller"), from: peer, address: "10.0.0.9", now: now)
        guard admitted(welcomed) != nil else { return welcomed }
        _ = m.receiveHeartbeat(from: peer, now: now)
        guard case .step = m.advance(now: now) else { XCTFail("no step"); return [] }
        XCTAssertEqual(m.awaiting.keys.sorted(), [1, m.members.last!.id], "the staller takes part")
        _ = m.receiveGradient(step: m.step, answer(5, magnitude: 0), from: [1], now: now)
        let lost = m.tick(now: now + 2 * second)
        XCTAssertTrue(lost.contains { if case .lost(_, .missedDeadline) = $0 { true } else { false } }, "\(lost)")
        // The lost member's chunk goes to worker 1, and the step completes.
        _ = m.receiveGradient(step: m.step, answer(5, magnitude: 0), from: [1], now: now + 2 * second)
        m.completeStep()
        return welcomed
    }

    /// Lost for a missed deadline, a host is told to try later: 20 s, then 80 s, then 320 s.
    func testAMemberThatKeepsStallingIsReadmittedAfterAGrowingBackoff() {
        var m = training()
        var now: UInt64 = 0
        _ = stall(&m, peer: [9], at: now)
        now += 2 * second
        XCTAssertEqual(m.backoffs["10.0.0.9"]?.losses, 1)
        XCTAssertEqual(refusal(m.receiveHello(Hello(host: "staller"), from: [10], address: "10.0.0.9", now: now + 19 * second)), .tryLater)
        // Another host is not held to it.
        XCTAssertNotNil(admitted(m.receiveHello(Hello(host: "other"), from: [20], address: "10.0.0.7", now: now + 19 * second)))
        now += 20 * second
        _ = stall(&m, peer: [11], at: now)
        now += 2 * second
        XCTAssertEqual(refusal(m.receiveHello(Hello(host: "staller"), from: [12], address: "10.0.0.9", now: now + 79 * second)), .tryLater)
        now += 80 * second
        _ = stall(&m, peer: [13], at: now)
        now += 2 * second
        XCTAssertEqual(m.backoffs["10.0.0.9"]?.losses, 3)
        XCTAssertEqual(m.backoffs["10.0.0.9"]?.until, now + 320 * second)
        XCTAssertEqual(m.dropped["refused_hello_try_later"], 2)
    }

    /// Back after its back-off, a member that stalls again is waited for only a second after the
    /// others answered (as long again as they took, at least `Liveness.probationGrace`), not the
    /// step's 2 s deadline; a member never lost has the whole deadline.
    func testAMemberBackFromABackoffIsWaitedForOnlyAWhileAfterTheOthers() {
        var m = training()
        _ = stall(&m, peer: [9], at: 0)
        let now = 22 * second
        XCTAssertNotNil(admitted(m.receiveHello(Hello(host: "staller"), from: [10], address: "10.0.0.9", now: now)))
        _ = m.receiveHeartbeat(from: [10], now: now)
        guard case .step = m.advance(now: now) else { return XCTFail() }
        _ = m.receiveGradient(step: m.step, answer(5, magnitude: 0), from: [1], now: now + 100_000_000)
        XCTAssertEqual(m.tick(now: now + 1_099_000_000).filter { if case .lost = $0 { true } else { false } }, [])
        let lost = m.tick(now: now + 1_100_000_000)
        XCTAssertTrue(lost.contains { if case .lost(let member, .missedDeadline(_, 1.1)) = $0 { member.id == 3 } else { false } }, "\(lost)")
        XCTAssertEqual(m.backoffs["10.0.0.9"]?.losses, 2)
        // Worker 1 was never lost: alone awaited, it has the whole deadline.
        _ = m.receiveGradient(step: m.step, answer(5, magnitude: 0), from: [1], now: now + 1_100_000_000)
        m.completeStep()
        guard case .step = m.advance(now: now + 2 * second) else { return XCTFail() }
        XCTAssertEqual(m.tick(now: now + 3 * second + 999_000_000).filter { if case .lost = $0 { true } else { false } }, [])
    }

    /// With keys, the key backs off, wherever it connects from.
    func testWithKeysTheKeyBacksOffNotTheHost() {
        var m = training()
        let welcomed = m.receiveHello(Hello(host: "staller"), from: [9], address: "10.0.0.9", key: "KEY", now: 0)
        XCTAssertNotNil(admitted(welcomed))
        _ = m.receiveHeartbeat(from: [9], now: 0)
        guard case .step = m.advance(now: 0) else { return XCTFail() }
        _ = m.tick(now: 2 * second)
        XCTAssertEqual(m.backoffs["KEY"]?.losses, 1)
        XCTAssertEqual(refusal(m.receiveHello(Hello(host: "staller"), from: [10], address: "10.0.0.5", key: "KEY", now: 3 * second)), .tryLater)
        XCTAssertNotNil(admitted(m.receiveHello(Hello(host: "x"), from: [11], address: "10.0.0.9", key: "OTHER", now: 3 * second)))
    }

    /// Killed or leaving cleanly costs a worker nothing: it may come back at once.
    func testAWorkerThatLeftOrDiedIsNotHeldToABackoff() {
        var m = training()
        XCTAssertNotNil(admitted(m.receiveHello(Hello(host: "b"), from: [2], address: "10.0.0.2", now: 0)))
        _ = m.receiveHeartbeat(from: [2], now: 0)
        guard case .step = m.advance(now: 0) else { return XCTFail() }
        _ = m.receiveGoodbye(from: [2], now: 0)
        XCTAssertNil(m.backoffs["10.0.0.2"])
        XCTAssertNotNil(admitted(m.receiveHello(Hello(host: "b"), from: [3], address: "10.0.0.2", now: 0)))
    }

    /// A flood of hellos: at most `Liveness.mostJoining` are welcomed at once and the rest told to
    /// try later; those that never speak again take no part and no shard, and are lost as silent.
    func testAFloodOfHellosIsBoundedAndTakesNoShards() {
        var m = training()
        var welcomed = 0, refused = 0
        for peer in 0..<1000 {
            let actions = m.receiveHello(Hello(host: "flood"), from: [UInt8(peer % 256), UInt8(peer / 256), 7], address: "10.0.0.66", now: 0)
            if case .welcome = actions.first { welcomed += 1 } else if refusal(actions) == .tryLater { refused += 1 }
        }
        XCTAssertEqual(welcomed, Liveness.mostJoining)
        XCTAssertEqual(refused, 1000 - Liveness.mostJoining)
        guard case .step(let actions) = m.advance(now: 0) else { return XCTFail() }
        XCTAssertEqual(actions, [], "no silent joiner takes part or a shard")
        XCTAssertEqual(m.members.map(\.id), [1])
        XCTAssertEqual(m.awaiting.keys.sorted(), [1])
        _ = m.receiveGradient(step: 1, answer(10, magnitude: 0), from: [1], now: 0)
        m.completeStep()
        _ = m.receiveHeartbeat(from: [1], now: 2 * second)
        let lost = m.tick(now: 2 * second + 1)
        XCTAssertEqual(lost.filter { if case .lost(_, .silent) = $0 { true } else { false } }.count, Liveness.mostJoining)
        XCTAssertEqual(m.joining, [])
        // Lost while joining, they cost their host no backoff: an honest worker there may come.
        XCTAssertNil(m.backoffs["10.0.0.66"])
    }

    func testBackoffsGrowFourfoldUpToAnHour() {
        XCTAssertEqual(Liveness.rejoinBackoff(losses: 1), 20 * second)
        XCTAssertEqual(Liveness.rejoinBackoff(losses: 2), 80 * second)
        XCTAssertEqual(Liveness.rejoinBackoff(losses: 3), 320 * second)
        XCTAssertEqual(Liveness.rejoinBackoff(losses: 4), 1280 * second)
        XCTAssertEqual(Liveness.rejoinBackoff(losses: 5), 3600 * second)
        XCTAssertEqual(Liveness.rejoinBackoff(losses: 1000), 3600 * second)
    }
}
