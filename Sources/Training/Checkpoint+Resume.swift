import Plan

extension Checkpoint {
    /// Why a run of `config` over `sampleCount` training samples cannot go on from this checkpoint
    /// (read from `path`); nil when it can. Every flag must match, except that --epochs may be
    /// raised to extend a run. The coordinator and the single process ask the same question.
    public func refusal(config: TrainingConfig, sampleCount: Int, path: String) -> CheckpointError? {
        guard state.sampleCount == sampleCount else {
            return CheckpointError(path: path, reason: "it was written for \(state.sampleCount) training samples and this data has \(sampleCount); resume with the same --data")
        }
        var sameButEpochs = config
        sameButEpochs.epochs = state.training.epochs
        let differences = sameButEpochs.differences(from: state.training)
        guard differences.isEmpty, config.epochs >= state.training.epochs else {
            let named = differences.isEmpty ? ["--epochs \(config.epochs) (the checkpoint has \(state.training.epochs); a run can be extended, not shortened)"] : differences
            return CheckpointError(path: path, reason: "it was written with other flags: \(named.joined(separator: ", ")); resume with the checkpoint's flags, or use another --checkpoint folder")
        }
        let plan = state.assignment.plan
        guard plan.batchSize == config.batchSize, plan.shardCount == config.shardCount, plan.seed == config.seed else {
            return CheckpointError(path: path, reason: "its shards (\(plan.shardCount) of a batch of \(plan.batchSize), seed \(plan.seed)) are not this run's; use another --checkpoint folder")
        }
        return nil
    }
}

extension CheckpointStore {
    /// A fresh run must not write into a folder of another run's checkpoints: pruning keeps the
    /// newest steps, so the old run's would push out the new run's own.
    public func refuseIfHoldsARun() throws {
        guard !checkpointPaths().isEmpty else { return }
        throw CheckpointError(path: directory, reason: "already holds checkpoints of a run; pass --resume to go on from them, or choose an empty folder")
    }
}
