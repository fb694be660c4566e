import MLP
import Plan

extension TrainingConfig {
    /// The flags whose values differ between this config and `other`, each as
    /// "--flag VALUE here (VALUE there)", for a resume with other flags.
    public func differences(from other: TrainingConfig) -> [String] {
        var found: [String] = []
        func compare<T: Equatable>(_ flag: String, _ mine: T, _ theirs: T, _ text: (T) -> String = { "\($0)" }) {
            if mine != theirs { found.append("\(flag) \(text(mine)) (the checkpoint has \(text(theirs)))") }
        }
        compare("--hidden", Array(model.layerSizes.dropFirst().dropLast()), Array(other.model.layerSizes.dropFirst().dropLast())) {
            $0.map(String.init).joined(separator: ",")
        }
        compare("--activation", model.hiddenActivation, other.model.hiddenActivation)
        compare("--loss", model.loss, other.model.loss)
        compare("--no-bias", !model.useBias, !other.model.useBias) { $0 ? "given" : "not given" }
        compare("--init", initialization, other.initialization)
        compare("--optimizer", optimizer.kind, other.optimizer.kind) { $0.rawValue }
        compare("--lr", optimizer.learningRate, other.optimizer.learningRate)
        compare("--schedule", optimizer.schedule, other.optimizer.schedule) { $0.rawValue }
        compare("--momentum", optimizer.momentum, other.optimizer.momentum)
        compare("--weight-decay", optimizer.weightDecay, other.optimizer.weightDecay)
        compare("--epochs", epochs, other.epochs)
        compare("--batch", batchSize, other.batchSize)
        compare("--shards", shardCount, other.shardCount)
        compare("--seed", seed, other.seed)
        compare("--compute", computePrecision, other.computePrecision)
        compare("--dropout", model.dropout, other.model.dropout) { $0.map { "\($0)" } ?? "none" }
        compare("--augment", augment, other.augment) { $0?.rawValue ?? "none" }
        compare("--clip-norm", clipNorm, other.clipNorm) { $0.map { "\($0)" } ?? "none" }
        compare("--label-smoothing", model.labelSmoothing, other.model.labelSmoothing) { $0.map { "\($0)" } ?? "none" }
        compare("--warmup", warmup, other.warmup) { $0?.argument ?? "none" }
        compare("--target-accuracy", stopping?.targetAccuracy, other.stopping?.targetAccuracy) { $0.map { "\($0)" } ?? "none" }
        compare("--patience", stopping?.patience, other.stopping?.patience) { $0.map { "\($0)" } ?? "none" }
        // A run whose --shards spelled out the default is the same run as one that left it out.
        var mine = self, theirs = other
        (mine.shards, theirs.shards) = (shardCount, other.shardCount)
        (mine.compute, theirs.compute) = (computePrecision, other.computePrecision)
        if found.isEmpty && mine != theirs { found.append("settings that have no flag (the input size or the class count)") }
        return found
    }
}
