/// When a run ends before its last epoch: once its scored accuracy (validation, or test
/// without a validation split) reaches `targetAccuracy` (`--target-accuracy`), or once it has
/// not improved for `patience` epochs (`--patience`). The run's course applies it
/// (`RunCourse.scored(accuracy:)`), so the coordinator's state machine decides the early end
/// as it decides every other, and its workers are told as at any end.
public struct StoppingRule: Codable, Equatable, Sendable {
    public var targetAccuracy: Double?
    public var patience: Int?

    public init(targetAccuracy: Double? = nil, patience: Int? = nil) {
        self.targetAccuracy = targetAccuracy
        self.patience = patience
    }

    public var problems: [String] {
        var found: [String] = []
        if let targetAccuracy, !(targetAccuracy > 0 && targetAccuracy <= 1) {
            found.append("--target-accuracy must be a fraction in (0, 1], such as 0.98 (got \(targetAccuracy))")
        }
        if let patience, patience < 1 { found.append("--patience must be at least 1 epoch (got \(patience))") }
        return found
    }
}

/// Why a run ended at a scored epoch (before its last, or at it).
public enum EarlyEnd: Codable, Equatable, Sendable {
    /// Epoch `epoch` scored `accuracy`, at least the target.
    case targetReached(epoch: Int, accuracy: Double)
    /// Epoch `epoch` was the `patience`th in a row not to beat `bestAccuracy`, of epoch `bestEpoch`.
    case noImprovement(epoch: Int, bestEpoch: Int, bestAccuracy: Double)
}
