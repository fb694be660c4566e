/// Why training stopped early, in words a user can act on.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case lossNotFinite(epoch: Int, step: Int, learningRate: Float)
    case dataDoesNotFitModel(String)
    /// Test accuracy fell to chance after having been well above it.
    case accuracyCollapsed(epoch: Int, accuracy: Double, best: Double)

    public var description: String {
        switch self {
        case let .lossNotFinite(epoch, step, learningRate):
            return "the loss became NaN or infinite at epoch \(epoch), step \(step): training diverged; try a lower learning rate than --lr \(learningRate)"
        case let .dataDoesNotFitModel(detail):
            return detail
        case let .accuracyCollapsed(epoch, accuracy, best):
            return String(format: "test accuracy fell to %.4f (chance) at epoch %d after reaching %.4f: the weights are wrecked "
                          + "(diverged, or corrupted by a bad gradient); no model is saved. Restart, with a lower --lr if it diverged", accuracy, epoch, best)
        }
    }
}
