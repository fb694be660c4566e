import MLP

/// The order in which an epoch visits the training samples: a fresh
/// permutation each epoch, drawn from the run's seed.
public struct EpochOrder: Sendable {
    public private(set) var indices: [Int32]
    public private(set) var generator: SeededGenerator

    public init(sampleCount: Int, seed: UInt64) {
        indices = (0..<Int32(sampleCount)).map { $0 }
        generator = EpochOrder.orderGenerator(seed: seed)
    }

    /// The generator of every sample order of a run: a stream of its own, so that the
    /// order does not shift when initialisation draws more numbers.
    static func orderGenerator(seed: UInt64) -> SeededGenerator { SeededGenerator(seed: seed ^ 0x5EED_0F_0DE5) }

    /// Shuffles for the next epoch.
    public mutating func shuffle() { generator.shuffle(&indices) }
}
