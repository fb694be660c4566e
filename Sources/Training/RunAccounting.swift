import MLP
import Plan

/// One account of a run, kept the same way by every trainer (the single
/// process and the coordinator): the samples and loss so far, the training
/// time (evaluation and checkpoints excluded), the schedule's progress, and the
/// reports made of them. Which epoch and step it is, and when the run ends, is
/// the run's course's (`RunCourse`): the trainers pass the epoch in. Time comes
/// in as monotonic nanoseconds; the trainers read the clock.
public struct RunAccounting: Sendable {
    public let epochs: Int
    public let samplesPerEpoch: Int
    public private(set) var runScore = BatchScore()
    public private(set) var epochScore = BatchScore()
    public private(set) var runTimings = StepTimings()
    public private(set) var epochTimings = StepTimings()
    /// Training time before the current stretch began, and when that stretch began (nil while paused).
    public private(set) var trainingNanoseconds: UInt64 = 0
    private var runningSince: UInt64?
    /// `trainingNanoseconds` when the epoch under way began.
    private var epochTrainingBase: UInt64 = 0
    /// When the run (this process's part of it) began, for wall-clock figures.
    private let started: UInt64

    public init(epochs: Int, samplesPerEpoch: Int, now: UInt64) {
        self.epochs = epochs
        self.samplesPerEpoch = samplesPerEpoch
        started = now
    }

    /// Samples trained since the run began; this places the learning-rate schedule.
    public var samplesSeen: Int { runScore.samples + epochScore.samples }

    /// The learning rate of the next step.
    public func learningRate(_ optimizer: OptimizerConfig) -> Float {
        optimizer.schedule.rate(base: optimizer.learningRate, progress: Double(samplesSeen) / Double(epochs * samplesPerEpoch))
    }

    /// The learning rate of the next step of `config`'s run: its schedule and its warmup.
    public func learningRate(_ config: TrainingConfig) -> Float {
        config.learningRate(samplesSeen: samplesSeen, samplesPerEpoch: samplesPerEpoch)
    }

    public mutating func beginEpoch(now: UInt64) {
        epochScore = BatchScore()
        epochTimings = StepTimings()
        epochTrainingBase = trainingNanoseconds
        resumeClock(now: now)
    }

    /// Evaluation, checkpoints and waiting for workers do not count as training time.
    public mutating func pauseClock(now: UInt64) {
        if let since = runningSince { trainingNanoseconds += now &- since }
        runningSince = nil
    }

    public mutating func resumeClock(now: UInt64) {
        if runningSince == nil { runningSince = now }
    }

    private func trainingTime(now: UInt64) -> UInt64 { trainingNanoseconds + (runningSince.map { now &- $0 } ?? 0) }

    public mutating func recordStep(_ score: BatchScore, timings: StepTimings? = nil) {
        epochScore += score
        if let timings { epochTimings += timings }
    }

    public func stepProgress(epoch: Int, now: UInt64) -> StepProgress {
        let seconds = Double(trainingTime(now: now)) / 1e9
        return StepProgress(epoch: epoch, epochs: epochs, samplesInEpoch: epochScore.samples, samplesPerEpoch: samplesPerEpoch,
                            loss: epochScore.meanLoss, samplesPerSecond: Double(samplesSeen) / seconds, elapsedSeconds: seconds)
    }

    /// Closes epoch `epoch` with its test accuracy; returns its report.
    public mutating func finishEpoch(_ epoch: Int, testAccuracy: Double, step: Int, workers: Int, distributed: Bool, now: UInt64) -> TrainingReport {
        pauseClock(now: now)
        runScore += epochScore
        runTimings += epochTimings
        var report = TrainingReport(epoch: epoch, step: step, trainLoss: epochScore.meanLoss, testAccuracy: testAccuracy,
                                    samplesPerSecond: Double(runScore.samples) / (Double(trainingNanoseconds) / 1e9),
                                    elapsedSeconds: Double(now &- started) / 1e9, workers: workers,
                                    timings: distributed ? epochTimings : nil, samples: epochScore.samples)
        report.epochSamplesPerSecond = Double(epochScore.samples) / (Double(trainingNanoseconds - epochTrainingBase) / 1e9)
        epochScore = BatchScore()
        return report
    }

    /// The whole run's report, after the last epoch's.
    public func finalReport(_ last: TrainingReport) -> TrainingReport {
        var report = last
        report.trainLoss = runScore.meanLoss
        report.samples = runScore.samples
        report.epochSamplesPerSecond = nil
        if report.timings != nil { report.timings = runTimings }
        return report
    }
}

extension RunAccounting {
    /// A checkpoint of this account, with the coordinator's part of the run: the one place a
    /// checkpoint's state is put together.
    public func checkpointState(training: TrainingConfig, sampleCount: Int, resume point: ResumePoint,
                                optimizerStep: Int, divergenceStartLoss: Double?) -> CheckpointState {
        var state = CheckpointState(
            training: training, sampleCount: sampleCount, step: point.step, course: point.course,
            samplesSeen: samplesSeen, assignment: point.assignment, memberIDs: point.memberIDs, nextWorkerID: point.nextID,
            optimizerStep: optimizerStep, trainingSeconds: Double(trainingNanoseconds) / 1e9,
            runLossSum: runScore.lossSum + epochScore.lossSum, runSamples: samplesSeen,
            epochLossSum: epochScore.lossSum, epochSamples: epochScore.samples)
        state.epochTrainingSeconds = Double(trainingNanoseconds - epochTrainingBase) / 1e9
        state.divergenceStartLoss = divergenceStartLoss
        return state
    }

    /// The account of a run restored from a checkpoint.
    public init(epochs: Int, samplesPerEpoch: Int, restoring state: CheckpointState, now: UInt64) {
        self.init(epochs: epochs, samplesPerEpoch: samplesPerEpoch, now: now)
        trainingNanoseconds = UInt64(state.trainingSeconds * 1e9)
        // The epoch's samples so far came in its training time so far: its rate goes on from there.
        epochTrainingBase = trainingNanoseconds - min(UInt64(max(state.epochTrainingSeconds ?? 0, 0) * 1e9), trainingNanoseconds)
        runScore = BatchScore(lossSum: state.runLossSum - state.epochLossSum, samples: state.runSamples - state.epochSamples)
        epochScore = BatchScore(lossSum: state.epochLossSum, samples: state.epochSamples)
    }
}
