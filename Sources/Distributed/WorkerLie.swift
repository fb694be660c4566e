import MLP

/// How a test's worker lies in its answers (`DPTRAIN_TEST_LIE`), as an attacker with an
/// admitted key would, or a core that silently miscomputes: the answer is rewritten after it is
/// computed and before it leaves. Each lie keeps the answer inside what the protocol's checks
/// let through unless the lie is an impossible value on purpose (`loss:`).
public enum WorkerLie: Equatable, Sendable {
    /// Every fixed-point value times this factor, kept inside one chunk's bound.
    case scale(Double)
    /// Every value at one chunk's bound, with its sign.
    case bound
    /// A free rider: zeros for a gradient, its loss and correct count kept.
    case zeros
    /// This loss sum in place of the real one.
    case loss(Double)
    /// Every sample right at zero loss.
    case allCorrect
    /// The low bit of one value flipped in one answer out of `every`, on average.
    case flipBit(every: Int)

    /// Parses `scale:-10`, `bound`, `zeros`, `loss:1e300`, `correct` or `flip-bit:1/1000`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard !text.contains("@") else { return nil }
        switch (parts.first, parts.count > 1 ? parts[1] : nil) {
        case ("scale", let factor?): guard let factor = Double(factor) else { return nil }; self = .scale(factor)
        case ("bound", nil): self = .bound
        case ("zeros", nil): self = .zeros
        case ("loss", let sum?): guard let sum = Double(sum) else { return nil }; self = .loss(sum)
        case ("correct", nil): self = .allCorrect
        case ("flip-bit", let rate?):
            let fraction = rate.split(separator: "/")
            guard fraction.count == 2, let one = Int(fraction[0]), let every = Int(fraction[1]), one == 1, every >= 1 else { return nil }
            self = .flipBit(every: every)
        default: return nil
        }
    }

    /// A lie and the answer it starts at: `KIND@N` lies from the worker's N-th answer on (its
    /// first answers honest, so that they pass its probation unchecked), `KIND` from the first.
    public static func parse(_ text: String) -> (lie: WorkerLie, fromAnswer: Int)? {
        let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
        guard let lie = parts.first.flatMap(WorkerLie.init) else { return nil }
        guard parts.count == 2 else { return (lie, 1) }
        guard let from = Int(parts[1]), from >= 1 else { return nil }
        return (lie, from)
    }

    /// The rewrite of an answer from the worker's `fromAnswer`-th on, drawing from `seed` where the lie is random.
    func rewriter(seed: UInt64, fromAnswer: Int = 1) -> (UInt64, inout FixedPointSum, inout BatchScore) -> Void {
        var generator = SeededGenerator(seed: seed)
        var answers = 0
        let limit = Int64(FixedPointFormat.chunkBound - 1)
        return { _, sum, score in
            answers += 1
            guard answers >= fromAnswer else { return }
            switch self {
            case .scale(let factor):
                sum.rewrite { values in
                    for i in values.indices { values[i] = Int64(max(-Double(limit), min(Double(limit), (Double(values[i]) * factor).rounded()))) }
                }
            case .bound:
                sum.rewrite { values in for i in values.indices { values[i] = values[i] < 0 ? -limit : limit } }
            case .zeros:
                sum.rewrite { values in values.update(repeating: 0) }
            case .loss(let lossSum):
                score.lossSum = lossSum
            case .allCorrect:
                score.correct = score.samples
                score.lossSum = 0
            case .flipBit(let every):
                guard Int.random(in: 0..<every, using: &generator) == 0 else { return }
                sum.rewrite { values in values[Int.random(in: values.indices, using: &generator)] ^= 1 }
            }
        }
    }
}
