import MLP

/// Which training samples each worker holds, and the order in which each
/// worker visits its shard, step by step.
///
/// The training set is split once, by a permutation drawn from the run's seed:
/// the worker in slot k (slots follow worker ids) holds positions k, k + N,
/// k + 2N, ... of that permutation. Every epoch each shard is shuffled anew
/// from the coordinator's generator, and step s asks each worker for the next
/// `batch` samples of its shard. With the same seed and the same N, every run
/// makes the same steps.
public struct ShardPlan: Sendable {
    /// Global sample indices held by each slot.
    public let shards: [[Int32]]
    public let batchSize: Int
    /// The current epoch's order of each shard, as indices into that shard.
    private var orders: [[UInt32]]
    private var generator: SeededGenerator

    public init(sampleCount: Int, workerCount: Int, batchSize: Int, seed: UInt64) {
        precondition(workerCount > 0 && batchSize > 0)
        var generator = SeededGenerator(seed: seed ^ 0x5EED_0F_0DE5)
        var all = (0..<Int32(sampleCount)).map { $0 }
        generator.shuffle(&all)
        shards = (0..<workerCount).map { slot in Array(stride(from: slot, to: sampleCount, by: workerCount).map { all[$0] }) }
        orders = shards.map { shard in (0..<UInt32(shard.count)).map { $0 } }
        self.batchSize = batchSize
        self.generator = generator
    }

    public var workerCount: Int { shards.count }

    /// Steps in an epoch: enough for the largest shard.
    public var stepsPerEpoch: Int {
        let largest = shards.map(\.count).max() ?? 0
        return (largest + batchSize - 1) / batchSize
    }

    /// Shuffles every shard's order for the next epoch.
    public mutating func startEpoch() {
        for slot in orders.indices { generator.shuffle(&orders[slot]) }
    }

    /// The local indices slot `slot` trains on at step `stepInEpoch` (0-based)
    /// of the current epoch; empty when its shard is used up.
    public func indices(slot: Int, stepInEpoch: Int) -> ArraySlice<UInt32> {
        let order = orders[slot]
        let start = min(stepInEpoch * batchSize, order.count)
        return order[start..<min(start + batchSize, order.count)]
    }
}
