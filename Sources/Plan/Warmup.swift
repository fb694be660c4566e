import MLP

/// A linear warmup of the learning rate (`--warmup`): the first steps of a run climb from a
/// small rate up to the schedule's, so that a large global batch's first updates, taken while
/// the weights are random and the gradients large, do not throw the run off (Goyal et al. 2017).
public enum Warmup: Codable, Equatable, Sendable {
    /// Over this many steps.
    case steps(Int)
    /// Over this many epochs' samples.
    case epochs(Double)

    /// Reads `--warmup`'s value: a whole number of steps (`500`), or epochs with the word
    /// (`1epoch`, `0.5epochs`); nil when it is neither.
    public init?(argument: String) {
        let text = String(argument.lowercased().filter { $0 != " " })
        for suffix in ["epochs", "epoch"] where text.hasSuffix(suffix) {
            guard let count = Double(text.dropLast(suffix.count)), count.isFinite else { return nil }
            self = .epochs(count)
            return
        }
        guard let count = Int(text) else { return nil }
        self = .steps(count)
    }

    /// How `--warmup` spells it.
    public var argument: String {
        switch self {
        case .steps(let count): return "\(count)"
        case .epochs(let count): return "\(count == count.rounded() ? String(Int(count)) : String(count))epochs"
        }
    }

    /// Training samples the warmup lasts.
    public func samples(batchSize: Int, samplesPerEpoch: Int) -> Double {
        switch self {
        case .steps(let count): return Double(count) * Double(batchSize)
        case .epochs(let count): return count * Double(samplesPerEpoch)
        }
    }

    public var problem: String? {
        switch self {
        case .steps(let count) where count < 0: return "--warmup must be zero or more steps (got \(count))"
        case .epochs(let count) where !(count >= 0): return "--warmup must be zero or more epochs (got \(count))"
        default: return nil
        }
    }
}

extension TrainingConfig {
    /// The learning rate of the step that follows `samplesSeen` samples of a run over
    /// `samplesPerEpoch` a epoch: the schedule's rate at the run's progress, times the warmup's
    /// share, which reaches 1 at the warmup's last step (its first step is not wasted at zero).
    /// The same function of samples for every trainer and any number of workers.
    public func learningRate(samplesSeen: Int, samplesPerEpoch: Int) -> Float {
        let progress = Double(samplesSeen) / Double(epochs * samplesPerEpoch)
        let rate = optimizer.schedule.rate(base: optimizer.learningRate, progress: progress)
        guard let warmup else { return rate }
        let length = warmup.samples(batchSize: batchSize, samplesPerEpoch: samplesPerEpoch)
        guard length > 0 else { return rate }
        return rate * Float(min(1, Double(samplesSeen + batchSize) / length))
    }
}
