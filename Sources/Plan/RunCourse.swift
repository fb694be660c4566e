/// Where a run stands in its epochs and steps, and what comes next: the one count of the run's
/// course. The single process follows it directly; the coordinator's state machine owns one and
/// decides from it when an epoch begins, which step trains and when the run ends; checkpoints
/// keep it. Nothing else counts epochs.
public struct RunCourse: Codable, Equatable, Sendable {
    /// What a trainer does next.
    public enum Next: Equatable, Sendable {
        /// Begin this epoch (from 1): draw its orders, start its clock.
        case beginEpoch(Int)
        /// Train step `stepInEpoch` (from 0) of the epoch under way.
        case trainStep(stepInEpoch: Int)
        /// Every step of this epoch is trained: score it, report it, checkpoint it.
        case closeEpoch(Int)
        /// The last epoch is closed, or an earlier one ended the run (`earlyEnd`).
        case endOfRun
    }

    public private(set) var epochs: Int
    public let stepsPerEpoch: Int
    /// The epoch under way, or the last one closed; 0 before the first.
    public private(set) var epoch = 0
    /// Steps of `epoch` trained.
    public private(set) var stepsDone = 0
    /// `epoch` has begun and is not closed yet.
    public private(set) var epochOpen = false
    /// When the run may end before its last epoch; nil: it never does.
    public var stopping: StoppingRule?
    /// The best scored accuracy so far and its epoch, for `stopping`'s patience.
    public private(set) var best: BestEpoch?
    /// Why the run ended before its last epoch, once a scored epoch ended it.
    public private(set) var earlyEnd: EarlyEnd?

    public struct BestEpoch: Codable, Equatable, Sendable {
        public var epoch: Int
        public var accuracy: Double
    }

    public init(epochs: Int, stepsPerEpoch: Int, stopping: StoppingRule? = nil) {
        precondition(epochs >= 1 && stepsPerEpoch >= 1)
        self.epochs = epochs
        self.stepsPerEpoch = stepsPerEpoch
        self.stopping = stopping
    }

    /// The course of `config`'s run over `sampleCount` training samples.
    public init(_ config: TrainingConfig, sampleCount: Int) {
        self.init(epochs: config.epochs, stepsPerEpoch: config.stepsPerEpoch(sampleCount: sampleCount), stopping: config.stopping)
    }

    public var next: Next {
        if epochOpen { return stepsDone < stepsPerEpoch ? .trainStep(stepInEpoch: stepsDone) : .closeEpoch(epoch) }
        return epoch < epochs && earlyEnd == nil ? .beginEpoch(epoch + 1) : .endOfRun
    }

    public var isFinished: Bool { next == .endOfRun }

    /// The epoch a step or a report of now belongs to: the one under way, or else the next.
    public var currentEpoch: Int { epochOpen || epoch == epochs ? max(epoch, 1) : epoch + 1 }

    public mutating func beginEpoch() {
        guard case .beginEpoch = next else { preconditionFailure("an epoch begins only after the last one closed: \(self)") }
        epoch += 1
        stepsDone = 0
        epochOpen = true
    }

    public mutating func commitStep() {
        guard case .trainStep = next else { preconditionFailure("no step is due: \(self)") }
        stepsDone += 1
    }

    public mutating func closeEpoch() {
        guard case .closeEpoch = next else { preconditionFailure("the epoch is not through: \(self)") }
        epochOpen = false
    }

    /// The closed epoch scored `accuracy` (on the validation set, or the test set when there is
    /// none): the run ends here when it reached the target, or when the last `patience` epochs
    /// brought nothing better than the best before them. Returns why, when it ends here.
    @discardableResult
    public mutating func scored(accuracy: Double) -> EarlyEnd? {
        precondition(!epochOpen && epoch >= 1, "only a closed epoch is scored: \(self)")
        if best.map({ accuracy > $0.accuracy }) ?? true { best = BestEpoch(epoch: epoch, accuracy: accuracy) }
        guard earlyEnd == nil, let stopping else { return nil }
        if let target = stopping.targetAccuracy, accuracy >= target {
            earlyEnd = .targetReached(epoch: epoch, accuracy: accuracy)
        } else if let patience = stopping.patience, let best, epoch - best.epoch >= patience {
            earlyEnd = .noImprovement(epoch: epoch, bestEpoch: best.epoch, bestAccuracy: best.accuracy)
        }
        return earlyEnd
    }

    /// The same course run to `epochs` epochs (a resumed run extended with a larger --epochs).
    public mutating func extend(to epochs: Int) {
        precondition(epochs >= self.epochs)
        self.epochs = epochs
    }

    /// What is wrong with a course read from a file against `plan`, if anything.
    public func problem(plan: ShardPlan) -> String? {
        guard stepsPerEpoch == plan.stepsPerEpoch else { return "it has \(stepsPerEpoch) steps an epoch, the shards \(plan.stepsPerEpoch)" }
        guard epoch >= 0, epoch <= epochs, stepsDone >= 0, stepsDone <= stepsPerEpoch, epochOpen || stepsDone == 0 || stepsDone == stepsPerEpoch,
              !epochOpen || epoch >= 1 else { return "its step \(stepsDone) of epoch \(epoch) is not within the run" }
        return nil
    }
}

extension TrainingConfig {
    /// Steps in one epoch over `sampleCount` training samples: the one rule every trainer,
    /// log interval and progress display uses (the epoch lasts until its slowest shard is through).
    public func stepsPerEpoch(sampleCount: Int) -> Int {
        ShardPlan.stepsPerEpoch(sampleCount: sampleCount, shardCount: shardCount, batchSize: batchSize)
    }

    /// Steps in the whole run over `sampleCount` training samples.
    public func plannedSteps(sampleCount: Int) -> Int { epochs * stepsPerEpoch(sampleCount: sampleCount) }
}
