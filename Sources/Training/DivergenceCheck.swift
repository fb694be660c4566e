import MLP

/// Tells a run that has diverged from one that is learning, from the losses of its steps
/// and its test accuracy after each epoch. Pure: the trainers feed it what they measured
/// and stop with its verdict, so the single-process and the distributed run judge alike.
///
/// A run has diverged when
/// - a step's loss is NaN or infinite;
/// - the mean loss of the last `window` steps is more than `lossFactor` times the first
///   step's, which is the untrained network's loss: a learning run's loss falls from there;
/// - after an epoch, the test accuracy is no better than `chanceFactor` times chance
///   (1 / classes): a learning run is far above chance after one pass over the data.
public struct DivergenceCheck: Sendable {
    public static let window = 20
    public static let lossFactor = 4.0
    public static let chanceFactor = 1.5
    /// Accuracy on fewer test samples is too noisy to call chance.
    public static let minimumTestSamples = 200

    /// The first step's mean loss per sample.
    public private(set) var startLoss: Double?
    /// The last `window` steps' loss sums and sample counts, oldest first.
    private var recent: [(lossSum: Double, samples: Int)] = []

    /// `startLoss`: the untrained loss of a run resumed from a checkpoint; nil for a fresh run.
    public init(startLoss: Double? = nil) { self.startLoss = startLoss }

    /// What the check found.
    public enum Verdict: Equatable, Sendable {
        case lossNotFinite
        case lossRose(from: Double, to: Double)
        case accuracyAtChance(accuracy: Double, classCount: Int)
    }

    /// Takes one step's loss sum over its samples; a verdict when the run has diverged.
    public mutating func stepFinished(lossSum: Double, samples: Int) -> Verdict? {
        guard lossSum.isFinite else { return .lossNotFinite }
        guard samples > 0 else { return nil }
        if startLoss == nil { startLoss = lossSum / Double(samples) }
        recent.append((lossSum, samples))
        if recent.count > Self.window { recent.removeFirst() }
        guard recent.count == Self.window, let startLoss else { return nil }
        let recentLoss = recent.reduce(0) { $0 + $1.lossSum } / Double(recent.reduce(0) { $0 + $1.samples })
        return recentLoss > Self.lossFactor * startLoss ? .lossRose(from: startLoss, to: recentLoss) : nil
    }

    /// Takes the test accuracy after a whole epoch; a verdict when it is at chance.
    /// Whether `stepFinished` would stop the run on this step, without recording it (and without
    /// allocating): a coordinator that verifies answers first recomputes a step that looks diverged.
    public func wouldStop(lossSum: Double, samples: Int) -> Bool {
        guard lossSum.isFinite else { return true }
        guard samples > 0, let startLoss, recent.count >= Self.window - 1 else { return false }
        let kept = recent.suffix(Self.window - 1)
        let recentLoss = (kept.reduce(0) { $0 + $1.lossSum } + lossSum) / Double(kept.reduce(0) { $0 + $1.samples } + samples)
        return recentLoss > Self.lossFactor * startLoss
    }

    public func epochFinished(testAccuracy: Double, testSamples: Int, classCount: Int) -> Verdict? {
        guard classCount > 1, testSamples >= Self.minimumTestSamples else { return nil }
        return testAccuracy <= Self.chanceFactor / Double(classCount)
            ? .accuracyAtChance(accuracy: testAccuracy, classCount: classCount) : nil
    }
}
