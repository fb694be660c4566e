import MLP

/// Samples held out of a set by a seeded split: a count (5000) or a fraction (0.1).
public enum HeldOut: Equatable, Sendable {
    case count(Int)
    case fraction(Double)

    /// "5000" or "0.1"; nil for anything else (a fraction must be above 0 and below 1).
    public init?(_ text: String) {
        if let count = Int(text), count > 0 { self = .count(count); return }
        if let fraction = Double(text), fraction > 0, fraction < 1 { self = .fraction(fraction); return }
        return nil
    }

    /// How many of `total` samples this holds out.
    public func count(of total: Int) -> Int {
        switch self {
        case .count(let count): count
        case .fraction(let fraction): Int((Double(total) * fraction).rounded())
        }
    }

    /// `set` split in two by a permutation drawn from `seed` (a stream of its own, `stream`, so that
    /// the test and validation splits differ): the kept samples and the held ones, each in file order.
    /// Throws unless both sides keep at least one sample.
    public func split(_ set: LabeledImages, seed: UInt64, stream: UInt64, flag: String) throws -> (kept: LabeledImages, held: LabeledImages) {
        let held = count(of: set.count)
        guard held >= 1, held < set.count else {
            throw DatasetError(.splitTooLarge, path: flag,
                               "holds out \(held) of \(set.count) training samples; both sides need at least one: pass a smaller count or fraction")
        }
        var generator = SeededGenerator(seed: seed ^ stream)
        var order = Array(0..<set.count)
        generator.shuffle(&order)
        let heldOut = order[..<held].sorted(), kept = order[held...].sorted()
        return (set.subset(kept), set.subset(heldOut))
    }

    /// The streams of the two splits: a test split first, then validation from what is left.
    public static let testStream: UInt64 = 0x7E57_5E7
    public static let validationStream: UInt64 = 0x0A11_DA7E
}
