import MLP

/// The run's fixed virtual shards and what each step trains: a function of the sample
/// count, the shard count, the global batch and the seed, never of the workers. Every
/// trainer (one process, or a coordinator with any workers) trains the same chunks.
///
/// Shard s holds positions s, s + S, s + 2S, ... of a permutation of all samples drawn
/// from the seed. Each epoch, each shard is shuffled anew from (seed, shard, epoch), and
/// step j of the epoch trains positions [j * c_s, (j + 1) * c_s) of that order: c_s is
/// the shard's chunk size, B / S with the remainder going one each to the first shards.
/// The epoch lasts until the slowest shard is through; shards done earlier train nothing.
public struct ShardPlan: Equatable, Sendable {
    public let sampleCount: Int
    public let shardCount: Int
    /// The global batch: samples per step over all shards.
    public let batchSize: Int
    public let seed: UInt64
    /// Global indices of each shard's samples; a shard is shipped in this order.
    public let shards: [[Int32]]
    /// Samples each shard trains per step.
    public let chunkSizes: [Int]
    public let stepsPerEpoch: Int

    /// The shard count a run gets without --shards: one shard per 128 samples of the global
    /// batch, at least 2 (so that two workers share the default batch of 128) and at most 16.
    /// Each chunk's gradient is computed alone, so a chunk's rows are the sgemm's, and sgemm on
    /// few rows runs well below its peak: chunks of 128 rows train markedly faster than 64 or 32
    /// (docs/performance.md, "Chunk size and the default shard count"). Never a function of the workers: the same flags give
    /// the same model whoever trains it; more workers than shards need --shards.
    public static func defaultShardCount(batchSize: Int) -> Int { min(max(batchSize / 128, min(2, batchSize)), 16) }

    /// What is wrong with these numbers, as a sentence a user can act on; nil when usable.
    public static func problem(sampleCount: Int, shardCount: Int, batchSize: Int) -> String? {
        if shardCount < 1 { return "--shards must be at least 1 (got \(shardCount))" }
        if shardCount > FixedPointFormat.maxChunks { return "--shards must be at most \(FixedPointFormat.maxChunks) (got \(shardCount))" }
        if shardCount > batchSize { return "--shards \(shardCount) is more than --batch \(batchSize): every shard trains at least one sample a step" }
        if shardCount > sampleCount { return "--shards \(shardCount) is more than the \(sampleCount) training samples" }
        return nil
    }

    public init(sampleCount: Int, shardCount: Int, batchSize: Int, seed: UInt64) {
        precondition(Self.problem(sampleCount: sampleCount, shardCount: shardCount, batchSize: batchSize) == nil)
        self.sampleCount = sampleCount
        self.shardCount = shardCount
        self.batchSize = batchSize
        self.seed = seed
        var generator = EpochOrder.orderGenerator(seed: seed)
        var all = (0..<Int32(sampleCount)).map { $0 }
        generator.shuffle(&all)
        shards = (0..<shardCount).map { s in stride(from: s, to: sampleCount, by: shardCount).map { all[$0] } }
        chunkSizes = (0..<shardCount).map { Self.chunkSize(shard: $0, shardCount: shardCount, batchSize: batchSize) }
        stepsPerEpoch = Self.stepsPerEpoch(sampleCount: sampleCount, shardCount: shardCount, batchSize: batchSize)
        assert(stepsPerEpoch == zip(shards, chunkSizes).map { ($0.count + $1 - 1) / $1 }.max())
    }

    /// Samples shard `shard` trains per step: B / S, the remainder one each to the first shards.
    static func chunkSize(shard: Int, shardCount: Int, batchSize: Int) -> Int {
        batchSize / shardCount + (shard < batchSize % shardCount ? 1 : 0)
    }

    /// Steps of an epoch: until the slowest shard is through. Shard s holds every S-th sample
    /// from s, so its size is known without drawing the shards.
    public static func stepsPerEpoch(sampleCount: Int, shardCount: Int, batchSize: Int) -> Int {
        (0..<min(shardCount, sampleCount)).map { shard in
            let samples = (sampleCount - shard + shardCount - 1) / shardCount
            let size = chunkSize(shard: shard, shardCount: shardCount, batchSize: batchSize)
            return (samples + size - 1) / size
        }.max() ?? 0
    }

    /// The largest chunk: the rows of one gradient computation.
    public var largestChunk: Int { chunkSizes[0] }
    /// The fixed-point form of the gradient sums: the coarse grid for a run whose weights travel
    /// in bf16, the fine one otherwise (the single process). Never defaulted: the coarse grid is
    /// 2^24 coarser.
    public func fixedPointFormat(coarse: Bool) -> FixedPointFormat {
        FixedPointFormat(largestChunk: largestChunk, coarse: coarse)
    }

    /// Positions in shard `shard`'s epoch order trained at step `step` (from 0) of an epoch; empty
    /// once the shard is through.
    public func chunk(shard: Int, step: Int) -> Range<Int> {
        let count = shards[shard].count, size = chunkSizes[shard]
        return min(step * size, count)..<min((step + 1) * size, count)
    }

    /// Shard `shard`'s order in epoch `epoch` (from 1): positions into `shards[shard]`.
    public func epochOrder(shard: Int, epoch: Int) -> [Int32] {
        var order: [Int32] = []
        epochOrder(shard: shard, epoch: epoch, into: &order)
        return order
    }

    /// Writes shard `shard`'s order in epoch `epoch` into `order`, reusing its storage.
    public func epochOrder(shard: Int, epoch: Int, into order: inout [Int32]) {
        // One stream per (shard, epoch), so no shard's order depends on another's or on the workers.
        var generator = SeededGenerator(seed: (seed ^ 0x5EED_0F_0DE5) &+ UInt64(shard) &* 0x9E37_79B9_7F4A_7C15
                                                &+ UInt64(epoch) &* 0xC2B2_AE3D_27D4_EB4F)
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: 0..<Int32(shards[shard].count))
        generator.shuffle(&order)
    }

    /// Every shard's samples (global indices) in epoch `epoch`'s order: step j trains
    /// `chunk(shard: s, step: j)` of row s.
    public func epochSamples(epoch: Int) -> [[Int32]] {
        (0..<shardCount).map { s in epochOrder(shard: s, epoch: epoch).map { shards[s][Int($0)] } }
    }
}
