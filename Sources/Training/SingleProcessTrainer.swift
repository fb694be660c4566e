import Dataset
import Foundation
import MLP

/// The whole training loop in one process, with no sockets: the reference the
/// distributed run is checked against, and the mode for tests and debugging.
public final class SingleProcessTrainer {
    public let config: TrainingConfig
    public private(set) var parameters: [Float]
    private let optimizer: Optimizer
    private let train: LabeledImages
    private let test: LabeledImages

    public init(config: TrainingConfig, train: LabeledImages, test: LabeledImages) throws {
        precondition(config.problems.isEmpty, "validate the config before training: \(config.problems)")
        guard config.model.inputSize == train.featureCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model takes \(config.model.inputSize) inputs but the data's images have \(train.featureCount) pixels")
        }
        guard config.model.classCount >= train.classCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model has \(config.model.classCount) outputs but the data has \(train.classCount) classes")
        }
        self.config = config
        self.train = train
        self.test = test
        parameters = config.model.initialParameters(config.initialization, seed: config.seed)
        optimizer = makeOptimizer(config.optimizer, parameterCount: parameters.count)
    }

    /// Trains for `config.epochs` epochs, evaluating on the test set after each.
    @discardableResult
    public func run(observer: TrainingObserver? = nil) throws -> TrainingReport {
        let batch = config.batchSize
        let workspace = Workspace(spec: config.model, capacity: batch)
        let evaluationWorkspace = Workspace(spec: config.model, capacity: 1000)
        var gradient = [Float](repeating: 0, count: parameters.count)
        var labels = [UInt8](repeating: 0, count: batch)
        var order = EpochOrder(sampleCount: train.count, seed: config.seed)
        let stepsPerEpoch = (train.count + batch - 1) / batch

        let start = DispatchTime.now()
        var trainingNanoseconds: UInt64 = 0
        var step = 0
        var runScore = BatchScore()
        var report = TrainingReport(epoch: 0, step: 0, trainLoss: 0, testAccuracy: 0,
                                    samplesPerSecond: 0, elapsedSeconds: 0, workers: 1)

        for epoch in 1...config.epochs {
            order.shuffle()
            let epochStart = DispatchTime.now()
            var epochScore = BatchScore()
            for stepInEpoch in 1...stepsPerEpoch {
                let first = (stepInEpoch - 1) * batch
                let rows = min(batch, train.count - first)
                labels.withUnsafeMutableBufferPointer { labelBuffer in
                    train.gather(order.indices[first..<(first + rows)], inputs: workspace.input, labels: labelBuffer.baseAddress!)
                }
                let score = workspace.gradient(parameters: parameters, labels: labels, rows: rows, into: &gradient)
                guard score.lossSum.isFinite else {
                    throw TrainingError.lossNotFinite(epoch: epoch, step: step + 1, learningRate: config.optimizer.learningRate)
                }
                let progress = Double(runScore.samples + epochScore.samples) / Double(config.epochs * train.count)
                let learningRate = config.optimizer.schedule.rate(base: config.optimizer.learningRate, progress: progress)
                parameters.withUnsafeMutableBufferPointer { p in
                    gradient.withUnsafeBufferPointer { g in
                        optimizer.step(parameters: p, gradientSum: g, sampleCount: rows, learningRate: learningRate)
                    }
                }
                step += 1
                epochScore += score
                if let observer {
                    let seconds = Self.seconds(since: epochStart) + Double(trainingNanoseconds) / 1e9
                    gradient.withUnsafeBufferPointer { gradientSum in
                        observer.stepFinished(StepProgress(
                            epoch: epoch, epochs: config.epochs, samplesInEpoch: epochScore.samples, samplesPerEpoch: train.count,
                            loss: epochScore.meanLoss, samplesPerSecond: Double(runScore.samples + epochScore.samples) / seconds,
                            elapsedSeconds: seconds, step: step, learningRate: Double(learningRate),
                            gradientSum: gradientSum, stepSamples: rows, stepLoss: score.meanLoss))
                    }
                }
            }
            let epochNanoseconds = DispatchTime.now().uptimeNanoseconds - epochStart.uptimeNanoseconds
            trainingNanoseconds += epochNanoseconds
            runScore += epochScore

            let evaluation = Evaluation(parameters: parameters, data: test, workspace: evaluationWorkspace)
            report = TrainingReport(epoch: epoch, step: step, trainLoss: epochScore.meanLoss,
                                    testAccuracy: evaluation.accuracy,
                                    samplesPerSecond: Double(runScore.samples) / (Double(trainingNanoseconds) / 1e9),
                                    elapsedSeconds: Self.seconds(since: start), workers: 1, samples: epochScore.samples)
            report.epochSamplesPerSecond = Double(epochScore.samples) / (Double(epochNanoseconds) / 1e9)
            report.record(evaluation, trainingScore: epochScore)
            observer?.epochFinished(report)
        }
        report.trainLoss = runScore.meanLoss
        report.samples = runScore.samples
        report.epochSamplesPerSecond = nil
        observer?.trainingFinished(report)
        return report
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}
