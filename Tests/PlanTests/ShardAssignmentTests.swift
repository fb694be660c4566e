import Foundation
import XCTest
@testable import Plan

/// The fixed virtual shards: what a step trains depends on the seed, the batch and the shard
/// count only; workers hold whole shards and are shipped each at most once.
final class ShardAssignmentTests: XCTestCase {
    /// Every sample is in exactly one shard, every epoch trains each once, chunk sizes are
    /// B / S with the remainder to the first shards, and each shard's order changes by epoch.
    func testShardsSplitTheSamplesAndAnEpochTrainsEachOnce() {
        let plan = ShardPlan(sampleCount: 1000, shardCount: 3, batchSize: 50, seed: 4)
        XCTAssertEqual(plan.shards.map(\.count), [334, 333, 333])
        XCTAssertEqual(Set(plan.shards.joined()).count, 1000)
        XCTAssertEqual(plan.chunkSizes, [17, 17, 16])
        XCTAssertEqual(plan.stepsPerEpoch, 21)   // ceil(334 / 17) = 20, ceil(333 / 16) = 21
        for epoch in 1...2 {
            let samples = plan.epochSamples(epoch: epoch)
            var trained: [Int32] = []
            for step in 0..<plan.stepsPerEpoch {
                for shard in 0..<3 { trained += samples[shard][plan.chunk(shard: shard, step: step)] }
            }
            XCTAssertEqual(trained.count, 1000)
            XCTAssertEqual(Set(trained).count, 1000)
        }
        XCTAssertNotEqual(plan.epochOrder(shard: 0, epoch: 1), plan.epochOrder(shard: 0, epoch: 2))
        XCTAssertNotEqual(plan.epochOrder(shard: 0, epoch: 1), plan.epochOrder(shard: 1, epoch: 1).prefix(333) + [0])
        XCTAssertEqual(ShardPlan(sampleCount: 1000, shardCount: 3, batchSize: 50, seed: 4), plan)
        XCTAssertNotEqual(ShardPlan(sampleCount: 1000, shardCount: 3, batchSize: 50, seed: 5).shards, plan.shards)
    }

    func testDefaultShardsFollowTheBatchOnly() {
        XCTAssertEqual([1, 2, 32, 128, 256, 383, 384, 512, 1024, 2048, 4096].map { ShardPlan.defaultShardCount(batchSize: $0) },
                       [1, 2, 2, 2, 2, 2, 3, 4, 8, 16, 16])
        XCTAssertEqual(ShardPlan.problem(sampleCount: 100, shardCount: 9, batchSize: 8),
                       "--shards 9 is more than --batch 8: every shard trains at least one sample a step")
        XCTAssertEqual(ShardPlan.problem(sampleCount: 100, shardCount: 300, batchSize: 512), "--shards must be at most 256 (got 300)")
    }

    /// The samples a step asks of the workers are the plan's chunks, whoever holds the shards:
    /// one, two or five workers are asked, together, for exactly the same samples.
    func testAStepTrainsTheSameSamplesWhateverTheWorkers() {
        let plan = ShardPlan(sampleCount: 500, shardCount: 5, batchSize: 40, seed: 1)
        func stepSamples(_ ids: [UInt32]) -> [[Int32]] {
            var assignment = ShardAssignment(plan: plan, holderIDs: ids)
            _ = assignment.rebalance()
            assignment.drawOrders(epoch: 1)
            var steps: [[Int32]] = []
            for step in 0..<plan.stepsPerEpoch {
                var samples: [Int32] = []
                for holder in assignment.holders {
                    var request = StepChunks()
                    assignment.appendChunks(of: holder.shards, heldBy: holder.id, step: step, to: &request)
                    // Local index → the sample the worker stores there.
                    var stored = [Int32](repeating: -1, count: holder.storedCount)
                    for shard in 0..<plan.shardCount {
                        guard let offset = holder.offsets[shard] else { continue }
                        for (position, sample) in plan.shards[shard].enumerated() { stored[offset + position] = sample }
                    }
                    samples += request.indices.map { stored[Int($0)] }
                }
                steps.append(samples.sorted())
            }
            return steps
        }
        let one = stepSamples([1])
        XCTAssertEqual(one.count, 13)
        XCTAssertEqual(stepSamples([1, 2]), one)
        XCTAssertEqual(stepSamples([3, 4, 5, 6, 7]), one)
    }

    /// Workers hold contiguous runs of whole shards; a join or a loss ships only shards a worker
    /// has never stored, each to its new holder.
    func testJoinsAndLossesMoveWholeShardsOnce() {
        let plan = ShardPlan(sampleCount: 600, shardCount: 6, batchSize: 60, seed: 2)
        var assignment = ShardAssignment(plan: plan, holderIDs: [1, 2])
        let first = assignment.rebalance()
        XCTAssertEqual(first.map(\.id), [1, 2])
        XCTAssertEqual(first[0].samples, Array(plan.shards[0...2].joined()))
        XCTAssertEqual(assignment.holders.map(\.shards), [0..<3, 3..<6])

        let joined = assignment.add([3])
        XCTAssertEqual(assignment.holders.map(\.shards), [0..<2, 2..<4, 4..<6])
        // Worker 2 already stores shard 3 and takes shard 2; worker 3 takes 4 and 5; worker 1 nothing.
        XCTAssertEqual(joined.map(\.id), [2, 3])
        XCTAssertEqual(joined[0].samples, plan.shards[2])
        XCTAssertEqual(joined[1].samples, plan.shards[4] + plan.shards[5])
        XCTAssertEqual(assignment.holders[1].offsets[2], 300)

        let lost = assignment.remove([2])
        XCTAssertEqual(assignment.holders.map(\.shards), [0..<3, 3..<6])
        // Worker 1 takes shard 2 back, which it still stores: only worker 3 is shipped shard 3.
        XCTAssertEqual(lost.map(\.id), [3])
        XCTAssertEqual(lost[0].samples, plan.shards[3])
        XCTAssertEqual(assignment.holder(of: 3), 3)
        XCTAssertTrue(assignment.remove([1, 3]).isEmpty)
        XCTAssertTrue(assignment.waitsForWorkers)
    }

    /// A worker's share of the shards follows its threads: 16 threads take 16 times the shards
    /// of 1; equal weights split as before; everyone keeps at least one while there are enough.
    func testShardsFollowTheHoldersThreads() {
        let plan = ShardPlan(sampleCount: 1700, shardCount: 17, batchSize: 170, seed: 2)
        var assignment = ShardAssignment(plan: plan, holders: [(1, 16), (2, 1)])
        _ = assignment.rebalance()
        XCTAssertEqual(assignment.holders.map(\.shards), [0..<16, 16..<17])
        XCTAssertEqual(ShardAssignment.runs(weights: [1, 16], shardCount: 17), [0..<1, 1..<17])
        XCTAssertEqual(ShardAssignment.runs(weights: [2, 1, 1], shardCount: 4), [0..<2, 2..<3, 3..<4])
        XCTAssertEqual(ShardAssignment.runs(weights: [1, 1, 1], shardCount: 4), [0..<1, 1..<2, 2..<4])
        // Too few shards for the weights: the light ones keep one each.
        XCTAssertEqual(ShardAssignment.runs(weights: [1, 1, 64], shardCount: 4), [0..<1, 1..<2, 2..<4])
        XCTAssertEqual(ShardAssignment.runs(weights: [64, 1, 1], shardCount: 4), [0..<2, 2..<3, 3..<4])
        // More holders than shards: some hold none, as before.
        XCTAssertEqual(ShardAssignment.runs(weights: [1, 1, 1], shardCount: 2), [0..<0, 0..<1, 1..<2])
        for weights in [[1], [3, 5], [1, 2, 3, 4], [8, 8, 8, 8, 1]] {
            for shards in [1, 4, 16, 64] {
                let runs = ShardAssignment.runs(weights: weights, shardCount: shards)
                XCTAssertEqual(runs.first?.lowerBound, 0)
                XCTAssertEqual(runs.last?.upperBound, shards)
                XCTAssertTrue(zip(runs, runs.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "\(weights) over \(shards)")
                if shards >= weights.count { XCTAssertTrue(runs.allSatisfy { !$0.isEmpty }, "\(weights) over \(shards)") }
            }
        }
        // A joiner of 2 threads beside one of 1: two thirds of the shards.
        let joined = assignment.add([(3, 2)])
        XCTAssertFalse(joined.isEmpty)
        XCTAssertEqual(assignment.holders.map(\.weight), [16, 1, 2])
        XCTAssertEqual(assignment.holders.map(\.shards.count).reduce(0, +), 17)
    }

    /// A checkpoint keeps the plan's inputs and the holders; shards and orders are drawn again.
    func testRoundTripsThroughJSON() throws {
        var assignment = ShardAssignment(plan: ShardPlan(sampleCount: 300, shardCount: 4, batchSize: 20, seed: 9), holderIDs: [2, 5])
        _ = assignment.rebalance()
        assignment.drawOrders(epoch: 2)
        let data = try JSONEncoder().encode(assignment)
        XCTAssertLessThan(data.count, 1000, "no sample list is stored")
        var read = try JSONDecoder().decode(ShardAssignment.self, from: data)
        read.drawOrders(epoch: 2)
        XCTAssertEqual(read, assignment)
        XCTAssertEqual(read.orders, assignment.orders)
        XCTAssertNil(read.problem(sampleCount: 300))
        XCTAssertEqual(read.problem(sampleCount: 301), "it splits 300 samples, the data has 301")
    }
}
