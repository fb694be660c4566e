import Foundation

/// How the learning rate moves over a run, as a function of the run's progress:
/// the fraction of its training samples seen so far, which means the same
/// whatever the batch and however many workers come and go.
public enum LearningRateSchedule: String, CaseIterable, Codable, Sendable {
    /// The same rate throughout, as in the original design.
    case constant
    /// Half a cosine from the base rate down to zero at the last step.
    case cosine

    public func rate(base: Float, progress: Double) -> Float {
        switch self {
        case .constant:
            return base
        case .cosine:
            return base * Float(0.5 * (1 + cos(Double.pi * min(max(progress, 0), 1))))
        }
    }
}
