import MLP

/// Where a run stands, at the end of an epoch or of the run: what the progress
/// display shows and what the metrics file records.
public struct TrainingReport: Equatable, Sendable {
    public var epoch: Int
    /// Optimizer steps taken since the run began.
    public var step: Int
    /// Mean training loss over the epoch (over the whole run in the final report).
    public var trainLoss: Double
    public var testAccuracy: Double
    /// Training samples over training time, evaluation excluded.
    public var samplesPerSecond: Double
    /// Wall-clock seconds since training began, evaluation included.
    public var elapsedSeconds: Double
    public var workers: Int
    /// Where the steps' time went, in a distributed run.
    public var timings: StepTimings?
    /// Samples trained in the epoch (in the run, for the final report).
    public var samples: Int?
    /// This epoch's own training samples over its training time (`samplesPerSecond` is the run's so far).
    public var epochSamplesPerSecond: Double?
    /// Mean loss over the test set.
    public var testLoss: Double?
    /// Accuracy and mean loss over the validation set, in a run that holds one out (--validation);
    /// `testAccuracy` is then NaN until the run's end, when the test set is scored once.
    public var validationAccuracy: Double?
    public var validationLoss: Double?
    /// Accuracy on the epoch's training batches, as trained; nil where the trainer does not count it
    /// (a worker's gradient carries no count of correct answers).
    public var trainAccuracy: Double?
    /// The test set's confusion matrix, confusion[truth][predicted].
    public var confusion: [[Int]]?
    /// Each worker's steps, samples and compute time in the epoch, in a distributed run.
    public var workerFigures: WorkerFigures?

    public init(epoch: Int, step: Int, trainLoss: Double, testAccuracy: Double,
                samplesPerSecond: Double, elapsedSeconds: Double, workers: Int, timings: StepTimings? = nil,
                samples: Int? = nil) {
        self.epoch = epoch
        self.step = step
        self.trainLoss = trainLoss
        self.testAccuracy = testAccuracy
        self.samplesPerSecond = samplesPerSecond
        self.elapsedSeconds = elapsedSeconds
        self.workers = workers
        self.timings = timings
        self.samples = samples
    }
}

/// Progress within an epoch, reported after every step.
public struct StepProgress {
    public var epoch: Int
    public var epochs: Int
    /// Samples trained so far this epoch, and in a whole epoch: samples rather than steps,
    /// because a distributed epoch's step count changes as workers come and go.
    public var samplesInEpoch: Int
    public var samplesPerEpoch: Int
    /// Mean loss of the samples trained so far this epoch.
    public var loss: Double
    public var samplesPerSecond: Double
    public var elapsedSeconds: Double
    /// Optimizer steps since the run began, this one included.
    public var step: Int = 0
    /// The learning rate this step used.
    public var learningRate: Double = 0
    /// Workers that took part in the step.
    public var workers: Int = 1
    /// In a distributed run, where the epoch's steps' time went so far.
    public var epochTimings: StepTimings?
    /// This step's gradient sum and its sample count. The buffer is the trainer's and valid only
    /// during `stepFinished`: an observer takes the norm at the steps it logs, and only then.
    public var gradientSum: UnsafeBufferPointer<Float>?
    public var stepSamples: Int = 0
    /// Mean loss of this step's samples.
    public var stepLoss: Double = .nan

    /// The norm of the step's mean gradient, or nil when the trainer gave no gradient.
    public var gradientNorm: Double? {
        guard let gradientSum, stepSamples > 0 else { return nil }
        return Double(BLAS.norm(gradientSum)) / Double(stepSamples)
    }

    /// Samples trained since the run began (for a resumed run, since it first began).
    public var samplesDone: Int { (epoch - 1) * samplesPerEpoch + samplesInEpoch }

    /// Seconds left at the rate measured since `baseline` (samples done and seconds elapsed
    /// at an earlier step), evaluation not counted; nil until there is a rate to go by.
    public func secondsLeft(since baseline: (samples: Int, seconds: Double)) -> Double? {
        let samples = samplesDone - baseline.samples, seconds = elapsedSeconds - baseline.seconds
        guard samples > 0, seconds > 0 else { return nil }
        return seconds * Double(epochs * samplesPerEpoch - samplesDone) / Double(samples)
    }
}

/// Watches a run: the progress display and the metrics file are observers.
public protocol TrainingObserver: AnyObject {
    func stepFinished(_ progress: StepProgress)
    func epochFinished(_ report: TrainingReport)
    func trainingFinished(_ report: TrainingReport)
    /// Anything else worth a metrics line: a worker joined or was lost, a checkpoint written.
    func event(_ name: String, _ fields: [(String, JSONValue)])
    /// The coordinator's members, training and joining, after anything that may have changed them.
    func membersChanged(training: Int, joining: Int)
    /// A message was dropped, for the reason `kind` names (`DropReason.kind`); no metrics line of its own.
    func messageDropped(_ kind: String)
}

extension TrainingObserver {
    public func stepFinished(_ progress: StepProgress) {}
    public func epochFinished(_ report: TrainingReport) {}
    public func trainingFinished(_ report: TrainingReport) {}
    public func event(_ name: String, _ fields: [(String, JSONValue)]) {}
    public func membersChanged(training: Int, joining: Int) {}
    public func messageDropped(_ kind: String) {}
}

/// Passes each event to several observers, in order.
public final class ObserverList: TrainingObserver {
    private let observers: [TrainingObserver]
    public init(_ observers: [TrainingObserver]) { self.observers = observers }
    public func stepFinished(_ progress: StepProgress) { observers.forEach { $0.stepFinished(progress) } }
    public func epochFinished(_ report: TrainingReport) { observers.forEach { $0.epochFinished(report) } }
    public func trainingFinished(_ report: TrainingReport) { observers.forEach { $0.trainingFinished(report) } }
    public func event(_ name: String, _ fields: [(String, JSONValue)]) { observers.forEach { $0.event(name, fields) } }
    public func membersChanged(training: Int, joining: Int) { observers.forEach { $0.membersChanged(training: training, joining: joining) } }
    public func messageDropped(_ kind: String) { observers.forEach { $0.messageDropped(kind) } }
}

extension TrainingReport {
    /// Takes the test loss and confusion matrix from `evaluation`, and the training accuracy
    /// from `trainingScore` when it counted correct answers.
    public mutating func record(_ evaluation: Evaluation, trainingScore: BatchScore) {
        testLoss = evaluation.score.meanLoss
        confusion = evaluation.confusion
        trainAccuracy = trainingScore.samples > 0 && trainingScore.correct > 0 ? trainingScore.accuracy : nil
    }
}

extension StepProgress {
    /// The account's progress with this step's own figures beside it.
    public func adding(step: Int, learningRate: Float, score: BatchScore, workers: Int = 1, epochTimings: StepTimings? = nil) -> StepProgress {
        var progress = self
        progress.step = step
        progress.learningRate = Double(learningRate)
        progress.stepSamples = score.samples
        progress.stepLoss = score.meanLoss
        progress.workers = workers
        progress.epochTimings = epochTimings
        return progress
    }

    /// With the step's gradient sum, for an observer to take its norm during the call.
    public func with(gradientSum: UnsafeBufferPointer<Float>) -> StepProgress {
        var progress = self
        progress.gradientSum = gradientSum
        return progress
    }
}
