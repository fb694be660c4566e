import Foundation
import Plan

/// Each member's measured compute time per sample, smoothed, and the decision to move whole
/// shards from slow members to fast ones so that a step's members finish together. Whoever
/// computes a chunk, the step's integers are the same: moving shards changes no weight.
///
/// A member's speed is its compute time over its samples in the last seconds (both summed with
/// a half-life of `halfLife`, so a step that stalled weighs in for its time, not as one step
/// among many). Its weight in the shards' assignment becomes that speed (samples per
/// millisecond); shards move only when the split they would make is predicted to finish a step
/// at least `minimumGain` sooner than the split in place, and at most once every
/// `minimumInterval`, so that noise does not move shards back and forth. A member that recovers
/// is measured faster again and gets its share back the same way.
public struct SpeedBalance: Equatable, Sendable {
    /// Off (`--rebalance off`): every member keeps the share its thread count gives it.
    public var enabled: Bool
    /// How fast old measurements fade: after this long they count half.
    static let halfLife = 1e9
    /// Answers a member must have given before its speed counts.
    static let answersToCount = 8
    /// The smallest predicted gain in a step's time that moves shards.
    static let minimumGain = 0.15
    /// The least time between two moves.
    static let minimumInterval: UInt64 = 3_000_000_000
    /// The least time between two looks at the speeds: a look allocates, a step must not.
    static let lookInterval: UInt64 = 200_000_000

    /// Each member's faded sums of compute nanoseconds and of samples, and when they were last faded.
    private var sums: [UInt32: Faded] = [:]
    private struct Faded: Equatable, Sendable {
        var nanoseconds: Double, samples: Double, at: UInt64
    }
    private var answers: [UInt32: Int] = [:]
    private var lastMove: UInt64?
    private var lastLook: UInt64?

    public init(enabled: Bool) { self.enabled = enabled }

    /// Each member's compute nanoseconds per sample, as measured lately.
    public var nanosecondsPerSample: [UInt32: Double] { sums.mapValues { $0.nanoseconds / $0.samples } }

    /// A member answered `samples` samples in `computeNanoseconds` of its own compute, at `now`.
    public mutating func record(member: UInt32, samples: Int, computeNanoseconds: UInt64, now: UInt64) {
        guard enabled, samples > 0, computeNanoseconds > 0 else { return }
        let faded = sums[member] ?? Faded(nanoseconds: 0, samples: 0, at: now)
        let fade = Self.fade(from: faded.at, to: now)
        sums[member] = Faded(nanoseconds: faded.nanoseconds * fade + Double(computeNanoseconds), samples: faded.samples * fade + Double(samples), at: now)
        answers[member, default: 0] += 1
    }

    /// What a measurement at `then` counts at `now`.
    static func fade(from then: UInt64, to now: UInt64) -> Double {
        now > then ? exp2(-Double(now - then) / halfLife) : 1
    }

    /// The member left: its figures go with it.
    public mutating func forget(member: UInt32) {
        sums[member] = nil
        answers[member] = nil
    }

    /// A member's weight from its speed: samples per millisecond, at least 1.
    static func weight(nanosecondsPerSample: Double) -> Int { max(1, Int((1e6 / nanosecondsPerSample).rounded())) }

    /// The weight a newcomer of `threads` threads starts with beside `holders` of measured
    /// weights: their mean weight per thread times its threads, so that it takes its share
    /// before its own speed is known.
    public func newcomerWeight(threads: Int, holders: [ShardAssignment.Holder], threadsOf: (UInt32) -> Int) -> Int {
        guard enabled, !holders.isEmpty else { return threads }
        let weights = holders.reduce(0) { $0 + $1.weight }, holderThreads = holders.reduce(0) { $0 + threadsOf($1.id) }
        return max(1, weights * threads / max(1, holderThreads))
    }

    /// New weights for `holders` when their measured speeds call for another split of
    /// `shardCount` shards and enough time has passed since the last move; nil to keep the split.
    public mutating func proposal(holders: [ShardAssignment.Holder], shardCount: Int, now: UInt64) -> [UInt32: Int]? {
        guard enabled, holders.count > 1, shardCount > holders.count else { return nil }
        if let lastMove, now - lastMove < Self.minimumInterval { return nil }
        if let lastLook, now - lastLook < Self.lookInterval { return nil }
        lastLook = now
        var speeds: [Double] = []
        for holder in holders {
            guard let sum = sums[holder.id], (answers[holder.id] ?? 0) >= Self.answersToCount else { return nil }
            speeds.append(sum.nanoseconds / sum.samples)
        }
        let weights = speeds.map { Self.weight(nanosecondsPerSample: $0) }
        let proposed = ShardAssignment.runs(weights: weights, shardCount: shardCount)
        let current = holders.map(\.shards)
        guard proposed != current else { return nil }
        // A step lasts as long as its slowest member: shards times time per shard.
        func stepTime(_ runs: [Range<Int>]) -> Double { zip(runs, speeds).map { Double($0.count) * $1 }.max() ?? 0 }
        guard stepTime(proposed) <= (1 - Self.minimumGain) * stepTime(current) else { return nil }
        lastMove = now
        return Dictionary(uniqueKeysWithValues: zip(holders.map(\.id), weights))
    }
}
