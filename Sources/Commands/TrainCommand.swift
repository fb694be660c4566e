import ArgumentParser
import Dataset
import Foundation
import MLP
import Distributed
import Plan
import Roles
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train in this one process, with no sockets.")

    @OptionGroup var training: TrainingOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var splits: SplitOptions

    @OptionGroup var output: OutputOptions

    func run() throws {
        let data = try dataOptions.prepare(splits, seed: training.seed ?? TrainingConfig.standard().seed)
        var config = training.config(inputSize: data.train.featureCount, classCount: data.train.classCount)
        let initialParameters = try training.initialParameters(for: &config)
        let logs = try output.logs(estimatedSteps: config.plannedSteps(sampleCount: data.train.count))
        RunLine(runID: UInt64.random(in: 1...UInt64.max), trainer: "single-process", resumed: false, config: config,
                trainSamples: data.train.count, testSamples: data.test.count,
                logEvery: logs.every).write(to: logs)
        BLAS.useOneThread()

        print("dptrain: " + RunLines.configuration(config))
        print("data: \(data.summary)")
        print(BLASKernels.summary)

        let trainer = try SingleProcessTrainer(config: config, train: data.train, test: data.test, validation: data.validation, testEveryEpoch: splits.testEveryEpoch,
                                                initialParameters: initialParameters)
        let observers: [TrainingObserver] = [ProgressDisplay(), logs]
        let report = try trainer.run(observer: ObserverList(observers))
        print(RunLines.done(report))

        if training.preset == .seed {
            printSample(parameters: trainer.parameters, spec: config.model, data: data.test)
        }
        if let save = output.save {
            try ModelFile.save(spec: config.model, parameters: trainer.parameters, normalization: data.normalization, to: save)
            print("saved the model to \(save)")
        }
        try splits.saveBestModel(trainer.evaluation, spec: config.model, normalization: data.normalization)
    }

    /// As the original design did: one test sample's one-hot target beside the network's output.
    private func printSample(parameters: [Float], spec: ModelSpec, data: LabeledImages) {
        let workspace = Workspace(spec: spec, capacity: 1)
        var label: UInt8 = 0
        data.gather([0], inputs: workspace.input, labels: &label)
        workspace.forward(parameters: parameters, rows: 1)
        let target = (0..<spec.classCount).map { $0 == Int(label) ? "1" : "0" }
        let prediction = (0..<spec.classCount).map { String(format: "%.2f", workspace.output[$0]) }
        print("test sample 0, a \(label):")
        print("target:     [\(target.joined(separator: "    "))]")
        print("prediction: [\(prediction.joined(separator: " "))]")
    }
}
