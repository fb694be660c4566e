import ArgumentParser
import Foundation
import Distributed
import Roles
import Training

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Test a saved model: accuracy and confusion matrix on the test set.")

    @Option(help: ArgumentHelp("A model saved by `dptrain train --save`.", valueName: "file"))
    var model: String

    @OptionGroup var dataOptions: DataOptions

    func run() throws {
        let (spec, parameters, partial) = try ModelFile.read(from: model)
        let test = try dataOptions.loadTestSet()
        guard spec.inputSize == test.featureCount, spec.classCount >= test.classCount else {
            throw ValidationError("the model takes \(spec.inputSize) inputs and has \(spec.classCount) outputs, but the data has \(test.featureCount) pixels and \(test.classCount) classes")
        }
        let evaluation = Evaluation(parameters: parameters, data: test, spec: spec)
        print("model: \(spec.summary)" + (partial.map { ", \($0)" } ?? ""))
        if let partial {
            FileHandle.standardError.write(Data("warning: \(model) is \(partial): resume its run from its checkpoint to finish it\n".utf8))
        }
        print(String(format: "test accuracy %.4f (%d of %d), mean loss %.4f",
                     evaluation.accuracy, evaluation.score.correct, evaluation.score.samples, evaluation.score.meanLoss))
        print("confusion matrix (rows: true class, columns: predicted):")
        print(evaluation.confusionTable)
    }
}
