import Plan

extension RunAccounting {
    /// The metrics' line for a run its course ended at a scored epoch (`RunCourse.scored`):
    /// `target_reached`, or `stopped_early` when its patience ran out, with the training time so
    /// far (evaluation excluded, as the epoch lines count it) and the samples trained.
    public func event(for end: EarlyEnd) -> (name: String, fields: [(String, JSONValue)]) {
        let trained: [(String, JSONValue)] = [("seconds", .double(Double(trainingNanoseconds) / 1e9)), ("samples", .int(samplesSeen))]
        switch end {
        case .targetReached(let epoch, let accuracy):
            return ("target_reached", [("epoch", .int(epoch)), ("accuracy", .double(accuracy))] + trained)
        case .noImprovement(let epoch, let bestEpoch, let bestAccuracy):
            return ("stopped_early", [("epoch", .int(epoch)), ("best_epoch", .int(bestEpoch)), ("best_accuracy", .double(bestAccuracy))] + trained)
        }
    }
}
