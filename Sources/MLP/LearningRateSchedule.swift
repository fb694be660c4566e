import Foundation

/// How the learning rate moves over a run. Steps count from 0 to totalSteps - 1.
public enum LearningRateSchedule: String, CaseIterable, Codable, Sendable {
    /// The same rate throughout, as in the original design.
    case constant
    /// Half a cosine from the base rate down to zero at the last step.
    case cosine

    public func rate(base: Float, step: Int, totalSteps: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .cosine:
            guard totalSteps > 1 else { return base }
            let progress = Double(min(step, totalSteps - 1)) / Double(totalSteps)
            return base * Float(0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
