import Dataset
import MLP

/// What a run scores, and when: with a validation set, the validation samples after every
/// epoch and the test samples once, at the end (what a user tunes on is never what they
/// report); without one, the test samples after every epoch, as dptrain always did. Keeps
/// the weights of the epoch with the best validation accuracy, for --save-best.
public struct RunEvaluation {
    public let test: LabeledImages
    public let validation: LabeledImages?
    /// Score the test set after every epoch too, beside the validation set (--test-every-epoch).
    public let testEveryEpoch: Bool
    private let workspace: Workspace
    /// The epoch with the best validation accuracy so far, and its weights (the first such epoch on a tie).
    public private(set) var best: (epoch: Int, accuracy: Double, parameters: [Float])?

    public init(spec: ModelSpec, test: LabeledImages, validation: LabeledImages?, testEveryEpoch: Bool = false) {
        self.test = test
        self.validation = validation
        self.testEveryEpoch = testEveryEpoch
        workspace = Workspace(spec: spec, capacity: 1000)
    }

    /// The samples scored after each epoch.
    public var epochSet: LabeledImages { validation ?? test }

    /// Scores the epoch's set with `parameters`.
    public func scoreEpoch(_ parameters: [Float]) -> Evaluation {
        Evaluation(parameters: parameters, data: epochSet, workspace: workspace)
    }

    /// The accuracy the epoch's report carries as its test accuracy: none (NaN) while validating,
    /// since the test set waits for the end.
    public func reportedTestAccuracy(_ evaluation: Evaluation) -> Double { validation == nil ? evaluation.accuracy : .nan }

    /// Puts `evaluation` (of `epochSet`) into the epoch's report, and remembers the best epoch's weights.
    public mutating func record(_ evaluation: Evaluation, into report: inout TrainingReport, trainingScore: BatchScore, parameters: [Float]) {
        report.record(evaluation, trainingScore: trainingScore)
        guard validation != nil else { return }
        report.validationAccuracy = evaluation.accuracy
        report.validationLoss = evaluation.score.meanLoss
        report.testLoss = nil
        report.confusion = nil
        if testEveryEpoch {
            let tested = Evaluation(parameters: parameters, data: test, workspace: workspace)
            report.testAccuracy = tested.accuracy
            report.testLoss = tested.score.meanLoss
        }
        if best == nil || evaluation.accuracy > best!.accuracy {
            best = (report.epoch, evaluation.accuracy, parameters)
        }
    }

    /// The run's last report with the test set scored, when validation kept it back until now.
    public func finish(_ report: TrainingReport, parameters: [Float]) -> TrainingReport {
        guard validation != nil else { return report }
        var final = report
        let evaluation = Evaluation(parameters: parameters, data: test, workspace: workspace)
        final.testAccuracy = evaluation.accuracy
        final.testLoss = evaluation.score.meanLoss
        final.confusion = evaluation.confusion
        return final
    }
}
