import MLP
import Wire
import XCTest
@testable import Plan
@testable import Roles

/// Shards that follow the members' speeds, in virtual time: measured compute times in, shard
/// moves out.
final class SpeedBalanceTests: XCTestCase {
    let millisecond: UInt64 = 1_000_000

    /// Two members of one thread over 8 shards (global batch 16, 2 samples a shard a step).
    func twoMembers(rebalance: Bool = true) -> Machine {
        var settings = Machine.Settings(expectedWorkers: 2, stepDeadlineSeconds: 2, sampleCount: 1600, batchSize: 16, shardCount: 8, seed: 1, epochs: 20)
        settings.rebalance = rebalance
        var m = Machine(settings: settings)
        _ = m.receiveHello(Hello(host: "a"), from: [1], now: 0)
        _ = m.receiveHello(Hello(host: "b"), from: [2], now: 0)
        _ = m.startTraining(now: 0)
        return m
    }

    /// Runs `steps` steps, one every 10 ms from `now`, each member answering in its
    /// `costs[id]` nanoseconds a sample; returns the rebalances the steps' boundaries made.
    func train(_ m: inout Machine, steps: Int, costs: [UInt32: UInt64], now: inout UInt64) -> [[UInt32: Int]] {
        var moves: [[UInt32: Int]] = []
        var done = 0
        while done < steps {
            now += 10 * millisecond
            switch m.advance(now: now) {
            case .beginEpoch, .closeEpoch: continue
            case .endOfRun, .waitForWorkers: XCTFail("the run ended"); return moves
            case .step(let actions):
                for case let .rebalanced(shards, _) in actions { moves.append(shards) }
                for request in m.stepRequests {
                    let samples = request.indices.count
                    let decision = m.receiveGradient(step: m.step, answer(samples, magnitude: 0), from: request.member.peer, now: now,
                                                     computeNanoseconds: UInt64(samples) * costs[request.member.id]!)
                    guard case .accept = decision else { XCTFail("\(decision)"); return moves }
                }
                m.completeStep()
                done += 1
            }
        }
        return moves
    }

    func shardCounts(_ m: Machine) -> [Int] { m.assignment!.holders.map(\.shards.count) }

    /// A member at half the other's speed gives up shards (5 : 3 of 8, where 4 : 4 waited for it
    /// every step); once it is as fast again, they come back, after the interval between moves.
    func testShardsMoveToTheFastMemberAndBackWhenTheSlowOneRecovers() {
        var m = twoMembers(), now: UInt64 = 0
        XCTAssertEqual(shardCounts(m), [4, 4])
        XCTAssertEqual(train(&m, steps: 5, costs: [1: 1000, 2: 2000], now: &now), [], "too few answers to judge")
        let moves = train(&m, steps: 100, costs: [1: 1000, 2: 2000], now: &now)
        XCTAssertEqual(moves, [[1: 5, 2: 3]])
        XCTAssertEqual(shardCounts(m), [5, 3])
        // Recovered: within 6 s the split is even again (old figures fade by half each second,
        // and a move waits 3 s after the last), and stays so.
        let back = train(&m, steps: 600, costs: [1: 1000, 2: 1000], now: &now)
        XCTAssertEqual(back, [[1: 4, 2: 4]])
        XCTAssertEqual(shardCounts(m), [4, 4])
    }

    /// Noise of a few percent moves nothing: a move must promise a step 12% shorter.
    func testNoiseMovesNothing() {
        var m = twoMembers(), now: UInt64 = 0
        var moves: [[UInt32: Int]] = []
        for round in 0..<40 {
            let slower: UInt64 = round % 2 == 0 ? 1050 : 960
            moves += train(&m, steps: 10, costs: [1: 1000, 2: slower], now: &now)
        }
        XCTAssertEqual(moves, [])
        XCTAssertEqual(shardCounts(m), [4, 4])
    }

    /// --rebalance off keeps the split whatever the speeds.
    func testOffKeepsTheSplit() {
        var m = twoMembers(rebalance: false), now: UInt64 = 0
        XCTAssertEqual(train(&m, steps: 300, costs: [1: 1000, 2: 4000], now: &now), [])
        XCTAssertEqual(shardCounts(m), [4, 4])
    }

    /// A slow member lost, and a newcomer of 2 threads: it takes a share its threads would
    /// have beside the measured weights, and the survivor's figures are kept.
    func testANewcomerTakesAShareBesideMeasuredSpeeds() {
        var m = twoMembers(), now: UInt64 = 0
        _ = train(&m, steps: 100, costs: [1: 1000, 2: 2000], now: &now)
        XCTAssertEqual(shardCounts(m), [5, 3])
        _ = m.receiveGoodbye(from: [2], now: now)
        XCTAssertNil(m.balance.nanosecondsPerSample[2])
        XCTAssertNotNil(m.balance.nanosecondsPerSample[1])
        _ = m.receiveHello(Hello(host: "c", threads: 2), from: [3], now: now)
        _ = m.receiveHeartbeat(from: [3], now: now)   // a joiner takes part once it has spoken after its welcome
        _ = train(&m, steps: 1, costs: [1: 1000, 3: 500], now: &now)
        // Worker 1 weighs 1000 samples/ms on one thread; the newcomer 2 x 1000: a third and two thirds.
        XCTAssertEqual(m.assignment!.holders.map(\.weight), [1000, 2000])
        XCTAssertEqual(shardCounts(m), [2, 6])
    }
}
