import Plan

extension TrainingConfig {
    /// What keeps this run from training on `sampleCount` samples, as a sentence a user can act on;
    /// nil when it can. A batch larger than the training set would make each epoch one step over
    /// the whole set, silently: that is refused rather than trained.
    public func problem(trainingOn sampleCount: Int) -> String? {
        if let problem = ShardPlan.problem(sampleCount: sampleCount, shardCount: shardCount, batchSize: batchSize) { return problem }
        if batchSize > sampleCount {
            return "--batch \(batchSize) is more than the \(sampleCount) training samples: every epoch would be one step "
                + "over the whole set; give --batch \(sampleCount) or less"
        }
        return nil
    }
}
