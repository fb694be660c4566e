import Dataset
import Foundation
import MLP
import Plan

/// The whole training loop in one process, with no sockets: the reference the
/// distributed run is checked against, and the mode for tests and debugging.
public final class SingleProcessTrainer {
    public let config: TrainingConfig
    public private(set) var parameters: [Float]
    private let optimizer: Optimizer
    private let train: LabeledImages
    /// The test set, and the validation set scored each epoch in its place when there is one.
    public private(set) var evaluation: RunEvaluation

    public init(config: TrainingConfig, train: LabeledImages, test: LabeledImages, validation: LabeledImages? = nil, testEveryEpoch: Bool = false,
                initialParameters: [Float]? = nil) throws {
        precondition(config.problems.isEmpty, "validate the config before training: \(config.problems)")
        guard config.model.inputSize == train.featureCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model takes \(config.model.inputSize) inputs but the data's images have \(train.featureCount) pixels")
        }
        guard config.model.classCount >= train.classCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model has \(config.model.classCount) outputs but the data has \(train.classCount) classes")
        }
        if let problem = ShardPlan.problem(sampleCount: train.count, shardCount: config.shardCount, batchSize: config.batchSize) {
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
    @discardableResult
    public func run(observer: TrainingObserver? = nil) throws -> TrainingReport {
        let plan = config.shardPlan(sampleCount: train.count)
        let chunks = ChunkedGradient(spec: config.model, largestChunk: plan.largestChunk, format: plan.fixedPointFormat(coarse: false))
        var gradient = [Float](repeating: 0, count: parameters.count)

        var account = RunAccounting(epochs: config.epochs, samplesPerEpoch: train.count, now: Self.now())
        var course = RunCourse(config, sampleCount: train.count)
        var samples: [[Int32]] = []
        var step = 0
        var divergence = DivergenceCheck()
        var report = TrainingReport(epoch: 0, step: 0, trainLoss: 0, testAccuracy: 0,
                                    samplesPerSecond: 0, elapsedSeconds: 0, workers: 1)

        // The course the coordinator's state machine follows, step for step: the same epochs, the same chunks.
        while true {
            switch course.next {
            case .beginEpoch(let epoch):
                course.beginEpoch()
                samples = plan.epochSamples(epoch: epoch)
                account.beginEpoch(now: Self.now())
            case .trainStep(let stepInEpoch):
                let epoch = course.epoch
                chunks.reset()
                var score = BatchScore()
                for shard in 0..<plan.shardCount {
                    let chunk = plan.chunk(shard: shard, step: stepInEpoch)
                    guard !chunk.isEmpty else { continue }
                    let chunkScore = samples[shard][chunk].withUnsafeBufferPointer { indices in
                        parameters.withUnsafeBufferPointer { chunks.add(indices, of: train, parameters: $0.baseAddress!) }
                    }
                    guard let chunkScore else {
                        throw chunks.divergence(epoch: epoch, step: step + 1, learningRate: config.optimizer.learningRate)
                    }
                    score += chunkScore
                }
                if let verdict = divergence.stepFinished(lossSum: score.lossSum, samples: score.samples) {
                    throw TrainingError.divergence(verdict, epoch: epoch, step: step + 1, learningRate: config.optimizer.learningRate)
                }
                gradient.withUnsafeMutableBufferPointer { chunks.sum.floats(into: $0) }
                let learningRate = account.learningRate(config.optimizer)
                parameters.withUnsafeMutableBufferPointer { p in
                    gradient.withUnsafeBufferPointer { g in
                        optimizer.step(parameters: p, gradientSum: g, sampleCount: score.samples, learningRate: learningRate)
                    }
                }
                step += 1
                course.commitStep()
                account.recordStep(score)
                if let observer {
                    let progress = account.stepProgress(epoch: epoch, now: Self.now()).adding(step: step, learningRate: learningRate, score: score)
                    gradient.withUnsafeBufferPointer { observer.stepFinished(progress.with(gradientSum: $0)) }
                }
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
            case .endOfRun:
                report = evaluation.finish(account.finalReport(report), parameters: parameters)
                observer?.trainingFinished(report)
                return report
            }
        }
    }
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
