import ArgumentParser
import CSignals
import Dataset
import Foundation
import MLP
import Monitoring
import Distributed
import Plan
import Roles
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train in this one process, with no sockets.",
        discussion: """
            With --checkpoint DIR it writes checkpoints as a coordinator does, and on SIGTERM or Ctrl-C it finishes \
            the step in hand, writes one and exits 0 (with --save, a model marked partial); --resume goes on from \
            the newest to the weights of a run never stopped, to the bit.
            """)

    @OptionGroup var runFile: RunFileOption
    @OptionGroup var training: TrainingOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var splits: SplitOptions
    @OptionGroup var threadOptions: ThreadOptions

    @OptionGroup var output: OutputOptions
    @OptionGroup var checkpoints: CheckpointOptions
    @OptionGroup var prometheus: PrometheusOptions

    func run() throws {
        let data = try dataOptions.prepare(splits, seed: training.seed ?? TrainingConfig.standard().seed)
        var config = training.config(inputSize: data.train.featureCount, classCount: data.train.classCount)
        let initialParameters = try training.initialParameters(for: &config)
        try data.check(compute: config.computePrecision)
        let logs = try output.logs(estimatedSteps: config.plannedSteps(sampleCount: data.train.count), resuming: checkpoints.resume)
        let runID = UInt64.random(in: 1...UInt64.max)
        let settings = RunSettings.of(config, data: dataOptions.data, splits: splits)
        // The model keeps the training settings alone: the same weights from another copy of the data are the same file.
        let modelSettings = RunSettings.of(config, data: nil, splits: splits)
        RunLine(runID: runID, trainer: "single-process", resumed: checkpoints.resume, config: config,
                trainSamples: data.train.count, testSamples: data.test.count,
                logEvery: logs.every, settings: settings).write(to: logs)
        BLAS.useOneThread()
        let threads = threadOptions.count()

        print("dptrain: " + RunLines.configuration(config))
        print("data: \(data.summary)")
        print(BLASKernels.summary)
        print("threads: \(threads) computing each step's chunks")

        let trainer = try SingleProcessTrainer(config: config, train: data.train, test: data.test, validation: data.validation, testEveryEpoch: splits.testEveryEpoch,
                                                initialParameters: initialParameters, threads: threads)
        var observers: [TrainingObserver] = [ProgressDisplay(), logs]
        let series = Series(labels: Series.labels(runID: runID, role: "single-process", member: nil))
        let endpoint = try prometheus.start(series) { print($0) }
        if endpoint != nil { observers.append(TrainingSeries(series)) }
        defer { endpoint?.finish { print($0) } }
        let store = try checkpoints.checkpoint.map { try CheckpointStore(directory: $0) }
        var resume: (Checkpoint, path: String)?
        if checkpoints.resume, let store {
            let (found, refused) = store.loadNewest()
            for line in refused { OutputOptions.warnOnStandardError("\(line); trying the one before") }
            resume = found.map { ($0.checkpoint, $0.path) }
            print(found.map { "resuming from \($0.path): step \($0.checkpoint.state.step)" }
                  ?? "no usable checkpoint in \(store.directory): starting from the beginning")
        }
        // Only a run that keeps checkpoints stops gently: without one, Ctrl-C ends it as it always did.
        if store != nil { ProcessSignals.stopAtTheEndOfTheStep() }
        let report = try trainer.run(observer: ObserverList(observers), checkpoints: store.map { .init(store: $0, every: checkpoints.checkpointEvery) },
                                     resume: resume, stopRequested: { dptrain_stop_requested() != 0 })
        if let stopped = trainer.stoppedAtStep {
            var wrote = trainer.lastCheckpoint.map { ["checkpoint \($0)"] } ?? []
            if let save = output.save {
                let partial = ModelFile.Partial(stepsDone: stopped, stepsPlanned: config.plannedSteps(sampleCount: data.train.count))
                try ModelSaving.save(spec: config.model, parameters: trainer.parameters, normalization: data.normalization, to: save, partial: partial,
                                     checkpointFolder: checkpoints.checkpoint, settings: modelSettings)
                wrote.append("model \(save) (\(partial))")
            }
            print("stopped by signal \(dptrain_stop_requested()) at step \(stopped): wrote " + wrote.joined(separator: " and "))
            return
        }
        print(RunLines.done(report))

        if training.preset == .seed {
            printSample(parameters: trainer.parameters, spec: config.model, data: data.test)
        }
        if let save = output.save {
            try ModelSaving.save(spec: config.model, parameters: trainer.parameters, normalization: data.normalization, to: save,
                                 checkpointFolder: checkpoints.checkpoint, settings: modelSettings)
            print("saved the model to \(save)")
        }
        try splits.saveBestModel(trainer.evaluation, spec: config.model, normalization: data.normalization, settings: modelSettings)
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
