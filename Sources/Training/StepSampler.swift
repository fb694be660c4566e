/// The figures of one logged step, each over the steps since the previous
/// logged one, so that a point stands for its whole interval: what a `step`
/// metrics line and TensorBoard's step scalars hold.
public struct StepRecord {
    public var step: Int
    public var epoch: Int
    /// Mean training loss of the interval's samples.
    public var loss: Double
    public var learningRate: Double
    /// Training samples over training time in the interval.
    public var samplesPerSecond: Double
    /// The norm of the logged step's mean gradient.
    public var gradientNorm: Double?
    public var workers: Int
    /// Where the interval's distributed steps' time went (per step, in `metricsFields`).
    public var timings: StepTimings?
    /// Training time since the run began.
    public var elapsedSeconds: Double
}

/// Picks every `every`-th step and sums what happened since the last one it picked.
/// Per step it adds a few numbers; the gradient norm is taken at picked steps only.
public struct StepSampler {
    public let every: Int
    private var lossSum = 0.0
    private var samples = 0
    private var seconds = 0.0
    private var timings = StepTimings()
    private var previousElapsed: Double?
    private var previousEpochTimings = StepTimings()
    private var previousEpoch = 0

    public init(every: Int) {
        precondition(every >= 1)
        self.every = every
    }

    public mutating func take(_ progress: StepProgress) -> StepRecord? {
        if progress.stepLoss.isFinite { lossSum += progress.stepLoss * Double(progress.stepSamples) }
        samples += progress.stepSamples
        if let previousElapsed { seconds += max(0, progress.elapsedSeconds - previousElapsed) }
        previousElapsed = progress.elapsedSeconds
        if let epochTimings = progress.epochTimings {
            // The trainer's timings start again at each epoch.
            let base = progress.epoch == previousEpoch && epochTimings.steps >= previousEpochTimings.steps
                ? previousEpochTimings : StepTimings()
            timings += epochTimings.subtracting(base)
            previousEpochTimings = epochTimings
        }
        previousEpoch = progress.epoch
        guard progress.step % every == 0 else { return nil }

        let record = StepRecord(
            step: progress.step, epoch: progress.epoch,
            loss: samples > 0 ? lossSum / Double(samples) : .nan, learningRate: progress.learningRate,
            samplesPerSecond: seconds > 0 ? Double(samples) / seconds : progress.samplesPerSecond,
            gradientNorm: progress.gradientNorm, workers: progress.workers,
            timings: progress.epochTimings == nil ? nil : timings, elapsedSeconds: progress.elapsedSeconds)
        lossSum = 0
        samples = 0
        seconds = 0
        timings = StepTimings()
        return record
    }

    /// An interval that gives a run of `steps` steps at least 100 points: every step of a short run.
    public static func defaultInterval(forSteps steps: Int) -> Int { max(1, steps / 100) }
}

/// A log that writes what `RunLogs` picks: the metrics file, TensorBoard.
public protocol StepLog: TrainingObserver {
    func write(_ record: StepRecord)
}

/// The run's logs behind one sampler: each logged step is summed, and its gradient's
/// norm taken, once for all of them.
public final class RunLogs: TrainingObserver {
    public let logs: [StepLog]
    private var sampler: StepSampler

    public init(every: Int, _ logs: [StepLog]) {
        self.logs = logs
        sampler = StepSampler(every: every)
    }

    public var every: Int { sampler.every }

    public func stepFinished(_ progress: StepProgress) {
        guard !logs.isEmpty, let record = sampler.take(progress) else { return }
        logs.forEach { $0.write(record) }
    }

    public func epochFinished(_ report: TrainingReport) { logs.forEach { $0.epochFinished(report) } }
    public func trainingFinished(_ report: TrainingReport) { logs.forEach { $0.trainingFinished(report) } }
    public func event(_ name: String, _ fields: [(String, JSONValue)]) { logs.forEach { $0.event(name, fields) } }
}
