import Dataset
import Foundation
import MLP
import Plan

/// The whole training loop in one process, with no sockets: the reference the
/// distributed run is checked against, and the mode for tests and debugging.
public final class SingleProcessTrainer {
    /// Where a run writes its checkpoints, and how often: every `every` steps, else at the end of
    /// each epoch; always at the end and when it stops early. The coordinator's format and rules.
    public struct Checkpoints {
        public var store: CheckpointStore
        public var every: Int?
        public init(store: CheckpointStore, every: Int? = nil) {
            self.store = store
            self.every = every
        }
    }

    public let config: TrainingConfig
    /// Threads that compute each step's chunks: the weights are the same bits for any count.
    public let threads: Int
    public private(set) var parameters: [Float]
    /// The step a stop request ended the run at; nil when it ran to its end.
    public private(set) var stoppedAtStep: Int?
    /// The newest checkpoint this run wrote.
    public private(set) var lastCheckpoint: String?
    private let optimizer: Optimizer
    private let train: LabeledImages
    /// The test set, and the validation set scored each epoch in its place when there is one.
    public private(set) var evaluation: RunEvaluation

    public init(config: TrainingConfig, train: LabeledImages, test: LabeledImages, validation: LabeledImages? = nil, testEveryEpoch: Bool = false,
                initialParameters: [Float]? = nil, threads: Int = 1) throws {
        precondition(config.problems.isEmpty, "validate the config before training: \(config.problems)")
        precondition(threads >= 1)
        self.threads = threads
        guard config.model.inputSize == train.featureCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model takes \(config.model.inputSize) inputs but the data's images have \(train.featureCount) pixels")
        }
        guard config.model.classCount >= train.classCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model has \(config.model.classCount) outputs but the data has \(train.classCount) classes")
        }
        if let problem = config.problem(trainingOn: train.count) {
            throw TrainingError.dataDoesNotFitModel(problem)
        }
        self.config = config
        self.train = train
        evaluation = RunEvaluation(spec: config.model, test: test, validation: validation, testEveryEpoch: testEveryEpoch)
        precondition(initialParameters.map { $0.count == config.model.parameterCount } ?? true)
        parameters = initialParameters ?? config.model.initialParameters(config.initialization, seed: config.seed)
        optimizer = makeOptimizer(config.optimizer, parameterCount: parameters.count)
    }

    /// Trains for `config.epochs` epochs, evaluating on the validation set after each, or on the
    /// test set when there is none (a validating run scores the test set at the end). Each step is
    /// exactly what a coordinator's step is with any number of workers: a chunk of every shard,
    /// each chunk's gradient computed alone and summed exactly (`ChunkedGradient`).
    ///
    /// With `checkpoints`, writes them as the coordinator does; `resume` (a checkpoint and its
    /// path) goes on from it, to the same weights, to the bit, as a run never stopped. Between
    /// steps, `stopRequested` (a signal) ends the run early with a checkpoint: `stoppedAtStep`.
    @discardableResult
    public func run(observer: TrainingObserver? = nil, checkpoints: Checkpoints? = nil, resume: (Checkpoint, path: String)? = nil,
                    stopRequested: () -> Bool = { false }) throws -> TrainingReport {
        let plan = config.shardPlan(sampleCount: train.count)
        let chunks = ChunkedGradient(spec: config.model, largestChunk: plan.largestChunk, format: plan.fixedPointFormat(coarse: false),
                                     compute: config.computePrecision, threads: threads)
        // A step's rows, chunk after chunk, and each chunk's size: what the threads share out.
        var stepRows = [Int32](repeating: 0, count: plan.largestChunk * plan.shardCount)
        var chunkSizes = [Int](repeating: 0, count: plan.shardCount)
        var gradient = [Float](repeating: 0, count: parameters.count)

        var account = RunAccounting(epochs: config.epochs, samplesPerEpoch: train.count, now: Self.now())
        var course = RunCourse(config, sampleCount: train.count)
        var samples: [[Int32]] = []
        var step = 0
        var divergence = DivergenceCheck()
        var report = TrainingReport(epoch: 0, step: 0, trainLoss: 0, testAccuracy: 0,
                                    samplesPerSecond: 0, elapsedSeconds: 0, workers: 1)
        if let (checkpoint, path) = resume {
            if let refusal = checkpoint.refusal(config: config, sampleCount: train.count, path: path) { throw refusal }
            let state = checkpoint.state
            parameters = checkpoint.parameters
            optimizer.state = OptimizerState(step: state.optimizerStep, moments: checkpoint.moments)
            account = RunAccounting(epochs: config.epochs, samplesPerEpoch: train.count, restoring: state, now: Self.now())
            course = state.course
            course.extend(to: config.epochs)
            course.stopping = config.stopping
            step = Int(state.step)
            divergence = DivergenceCheck(startLoss: state.divergenceStartLoss)
            if course.epochOpen { samples = plan.epochSamples(epoch: course.epoch) }
        } else {
            try checkpoints?.store.refuseIfHoldsARun()
        }
        func writeCheckpoint() throws {
            guard let checkpoints else { return }
            var assignment = ShardAssignment(plan: plan, holderIDs: [])
            if course.epoch >= 1 { assignment.drawOrders(epoch: course.epoch) }
            let point = ResumePoint(step: UInt64(step), course: course, memberIDs: [], nextID: 1, assignment: assignment)
            let state = account.checkpointState(training: config, sampleCount: train.count, resume: point,
                                                optimizerStep: optimizer.state.step, divergenceStartLoss: divergence.startLoss)
            lastCheckpoint = try checkpoints.store.write(Checkpoint(state: state, parameters: parameters, moments: optimizer.state.moments))
        }

        // The course the coordinator's state machine follows, step for step: the same epochs, the same chunks.
        while true {
            if !course.isFinished, stopRequested() {
                account.pauseClock(now: Self.now())
                try writeCheckpoint()
                stoppedAtStep = step
                return account.finalReport(report)
            }
            switch course.next {
            case .beginEpoch(let epoch):
                course.beginEpoch()
                samples = plan.epochSamples(epoch: epoch)
                account.beginEpoch(now: Self.now())
            case .trainStep(let stepInEpoch):
                let epoch = course.epoch
                chunks.reset()
                if chunks.augmentation?.epoch != epoch { chunks.augmentation = config.augmentation(epoch: epoch) }
                if chunks.dropout?.epoch != epoch { chunks.dropout = config.dropout(epoch: epoch) }
                var rowCount = 0, chunkCount = 0
                for shard in 0..<plan.shardCount {
                    let chunk = plan.chunk(shard: shard, step: stepInEpoch)
                    guard !chunk.isEmpty else { continue }
                    for sample in samples[shard][chunk] {
                        stepRows[rowCount] = sample
                        rowCount += 1
                    }
                    chunkSizes[chunkCount] = chunk.count
                    chunkCount += 1
                }
                let stepScore = stepRows.withUnsafeBufferPointer { rows in
                    chunkSizes.withUnsafeBufferPointer { sizes in
                        parameters.withUnsafeBufferPointer {
                            // The threads' sums stay apart: the floats below add them as they convert.
                            chunks.addChunks(UnsafeBufferPointer(rebasing: rows[0..<rowCount]), sizes: UnsafeBufferPointer(rebasing: sizes[0..<chunkCount]),
                                             of: train, parameters: $0.baseAddress!, combine: false)
                        }
                    }
                }
                guard let score = stepScore else {
                    throw chunks.divergence(epoch: epoch, step: step + 1, learningRate: config.optimizer.learningRate)
                }
                if let verdict = divergence.stepFinished(lossSum: score.lossSum, samples: score.samples) {
                    throw TrainingError.divergence(verdict, epoch: epoch, step: step + 1, learningRate: config.optimizer.learningRate)
                }
                let learningRate = account.learningRate(config)
                // The sum into floats and the update, in one pass split over the threads (elementwise: the same bits).
                let optimizer = optimizer, samples = score.samples
                gradient.withUnsafeMutableBufferPointer { g in
                    parameters.withUnsafeMutableBufferPointer { p in
                        guard let maxNorm = config.clipNorm else {
                            return chunks.floats(into: g) { range in
                                optimizer.update(range, parameters: p.baseAddress!, gradientSum: g.baseAddress!, sampleCount: samples, learningRate: learningRate)
                            }
                        }
                        // Clipping needs the whole sum's norm: the floats first, then the clip, then the update.
                        chunks.floats(into: g) { _ in }
                        clipByGlobalNorm(g, sampleCount: samples, maxNorm: maxNorm)
                        chunks.split(count: p.count) { range in
                            optimizer.update(range, parameters: p.baseAddress!, gradientSum: g.baseAddress!, sampleCount: samples, learningRate: learningRate)
                        }
                    }
                }
                optimizer.finishStep()
                step += 1
                course.commitStep()
                account.recordStep(score)
                if let observer {
                    let progress = account.stepProgress(epoch: epoch, now: Self.now()).adding(step: step, learningRate: learningRate, score: score)
                    gradient.withUnsafeBufferPointer { observer.stepFinished(progress.with(gradientSum: $0)) }
                }
                if let every = checkpoints?.every, step % every == 0 { try writeCheckpoint() }
            case .closeEpoch(let epoch):
                course.closeEpoch()
                account.pauseClock(now: Self.now())
                let scored = evaluation.scoreEpoch(parameters)
                if let verdict = divergence.epochFinished(testAccuracy: scored.accuracy, testSamples: evaluation.epochSet.count, classCount: train.classCount) {
                    throw TrainingError.divergence(verdict, epoch: epoch, step: step, learningRate: config.optimizer.learningRate)
                }
                let trainingScore = account.epochScore
                report = account.finishEpoch(epoch, testAccuracy: evaluation.reportedTestAccuracy(scored), step: step, workers: 1, distributed: false, now: Self.now())
                evaluation.record(scored, into: &report, trainingScore: trainingScore, parameters: parameters)
                observer?.epochFinished(report)
                if let end = course.scored(accuracy: scored.accuracy) {
                    let event = account.event(for: end)
                    observer?.event(event.name, event.fields)
                }
                if checkpoints?.every == nil || course.isFinished { try writeCheckpoint() }
            case .endOfRun:
                report = evaluation.finish(account.finalReport(report), parameters: parameters)
                observer?.trainingFinished(report)
                return report
            }
        }
    }
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
