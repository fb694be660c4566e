/// Why training stopped early, in words a user can act on.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case lossNotFinite(epoch: Int, step: Int, learningRate: Float)
    case dataDoesNotFitModel(String)
    case workerFailed(worker: UInt32, host: String, reason: String)

    public var description: String {
        switch self {
        case let .lossNotFinite(epoch, step, learningRate):
            return "the loss became NaN or infinite at epoch \(epoch), step \(step): training diverged; try a lower learning rate than --lr \(learningRate)"
        case let .dataDoesNotFitModel(detail):
            return detail
        case let .workerFailed(worker, host, reason):
            return "worker \(worker) (\(host)) cannot go on: \(reason)"
        }
    }
}
