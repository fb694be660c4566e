import ArgumentParser
import Foundation
import Distributed
import MLP
import Roles
import Training

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Test a saved model: accuracy and confusion matrix on the test set.")

    @Option(help: ArgumentHelp("A model saved by `dptrain train --save`, or a PyTorch nn.Sequential's state_dict saved with safetensors.", valueName: "file"))
    var model: String

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "The hidden activation of a PyTorch nn.Sequential's model, which its file does not hold: relu, sigmoid or tanh (default relu). A dptrain model names its own.")
    var activation: Activation = .relu

    func run() throws {
        let (spec, parameters, normalization, partial) = try ModelFile.loadModel(from: model, activation: activation)
        let test = try dataOptions.loadEvaluationSet(for: spec, normalization: normalization)
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
