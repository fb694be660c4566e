/// Why training stopped early, in words a user can act on.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case lossNotFinite(epoch: Int, step: Int, learningRate: Float)
    case dataDoesNotFitModel(String)
    case diverged(DivergenceCheck.Verdict, epoch: Int, step: Int, learningRate: Float)
    /// A chunk's gradient grew beyond what the run's fixed-point format sums exactly.
    case gradientOutOfRange(epoch: Int, step: Int, bound: Float, learningRate: Float)

    /// The error for `verdict`, found at `epoch` and `step` of a run at base rate `learningRate`.
    public static func divergence(_ verdict: DivergenceCheck.Verdict, epoch: Int, step: Int, learningRate: Float) -> TrainingError {
        verdict == .lossNotFinite ? .lossNotFinite(epoch: epoch, step: step, learningRate: learningRate)
                                  : .diverged(verdict, epoch: epoch, step: step, learningRate: learningRate)
    }

    public var description: String {
        switch self {
        case let .lossNotFinite(epoch, step, learningRate):
            return "the loss became NaN or infinite at epoch \(epoch), step \(step): training diverged; try a lower learning rate than --lr \(learningRate)"
        case let .dataDoesNotFitModel(detail):
            return detail
        case let .gradientOutOfRange(epoch, step, bound, learningRate):
            return "training diverged at epoch \(epoch), step \(step): a gradient grew beyond \(Int(bound)) per chunk, "
                + "past the range dptrain sums exactly; try a lower learning rate than --lr \(learningRate)"
        case let .diverged(verdict, epoch, step, learningRate):
            let advice = "try a lower learning rate than --lr \(learningRate)"
            switch verdict {
            case .lossNotFinite:
                return TrainingError.lossNotFinite(epoch: epoch, step: step, learningRate: learningRate).description
            case let .lossRose(start, recent):
                return String(format: "training diverged at epoch %d, step %d: the loss rose from %.2f at the start to %.2f over the last %d steps; ",
                              epoch, step, start, recent, DivergenceCheck.window) + advice
            case let .accuracyAtChance(accuracy, classCount):
                return String(format: "training diverged: test accuracy %.4f after epoch %d is no better than chance among %d classes; ",
                              accuracy, epoch, classCount) + advice
            }
        }
    }
}
