import Foundation

/// How the learning rate moves over a run, as a function of the run's progress:
/// the fraction of its training samples seen so far, which means the same
/// whatever the batch and however many workers come and go.
public enum LearningRateSchedule: String, CaseIterable, Codable, Sendable {
    /// The same rate throughout, as in the original design.
    case constant
    /// Half a cosine from the base rate down to zero at the last step.
    case cosine
    /// A straight line from the base rate down to zero at the last step.
    case linear
    /// Smith's one cycle, as PyTorch's `OneCycleLR` with its defaults: from base/25 up to the
    /// base along half a cosine over the first 30% of the run, then down to base/250,000 along
    /// another half cosine. The climb is its own warmup.
    case oneCycle = "one-cycle"

    /// The share of the run `oneCycle` spends climbing (PyTorch's `pct_start`).
    public static let oneCycleClimb = 0.3
    /// The first rate of `oneCycle` is the base over this (PyTorch's `div_factor`), the last that
    /// over `oneCycleFinalDivisor` (`final_div_factor`).
    public static let oneCycleDivisor: Float = 25
    public static let oneCycleFinalDivisor: Float = 10_000

    public func rate(base: Float, progress: Double) -> Float {
        let progress = min(max(progress, 0), 1)
        switch self {
        case .constant:
            return base
        case .cosine:
            return base * Float(0.5 * (1 + cos(Double.pi * progress)))
        case .linear:
            return base * Float(1 - progress)
        case .oneCycle:
            let first = base / Self.oneCycleDivisor, last = first / Self.oneCycleFinalDivisor
            if progress < Self.oneCycleClimb {
                return Self.cosineBetween(first, base, fraction: progress / Self.oneCycleClimb)
            }
            return Self.cosineBetween(base, last, fraction: (progress - Self.oneCycleClimb) / (1 - Self.oneCycleClimb))
        }
    }

    /// From `start` at fraction 0 to `end` at 1 along half a cosine (PyTorch's `_annealing_cos`).
    static func cosineBetween(_ start: Float, _ end: Float, fraction: Double) -> Float {
        end + (start - end) * Float(0.5 * (1 + cos(Double.pi * fraction)))
    }
}

/// How `--lr-scaling` grows the base rate with the global batch, over `referenceBatch`
/// (dptrain's default batch): linearly, as Goyal et al. 2017 do for SGD, or with its square
/// root, which suits Adam better.
public enum LearningRateScaling: String, CaseIterable, Codable, Sendable {
    case linear
    case sqrt

    /// The batch at which a rate is taken as given.
    public static let referenceBatch = 128

    public func factor(batch: Int) -> Float {
        let ratio = Double(batch) / Double(Self.referenceBatch)
        switch self {
        case .linear: return Float(ratio)
        case .sqrt: return Float(ratio.squareRoot())
        }
    }
}
