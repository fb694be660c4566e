import ArgumentParser
import Logging
import MLP
import Monitoring
import Distributed
import Plan
import Roles
import Training
import ZMQ

public struct CoordinatorCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Hold the weights, shard the data across workers, and train with them.",
        discussion: """
            Start one coordinator, then workers anywhere that can reach it: `worker --connect ENDPOINT`. \
            Only the coordinator needs the data: each worker gets its shard over the network. \
            --batch is the global batch: a step trains a chunk of every shard (--shards), whoever holds it, \
            so any number of workers, joining or leaving, trains the model `dptrain train` trains with the same flags, to the bit.
            """,
        version: BuildInfo.line(program: "coordinator"))

    @Option(help: ArgumentHelp("Where workers connect: tcp://HOST:PORT (tcp://*:5555 for every interface) or ipc:///PATH.", valueName: "endpoint"))
    var bind: String

    @Option(parsing: .unconditional, help: "Workers to wait for before the first step.")
    var workers: Int

    @OptionGroup var runFile: RunFileOption
    @OptionGroup var training: TrainingOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var splits: SplitOptions

    @OptionGroup var output: OutputOptions
    @OptionGroup var membership: MembershipOptions
    @OptionGroup var transport: TransportOptions
    @OptionGroup var prometheus: PrometheusOptions
    @OptionGroup(title: "Security") var security: CoordinatorSecurityOptions

    @Flag(help: "Log every detail: each worker's samples, each slow step, each dropped message.")
    var verbose = false

    public init() {}

    public func validate() throws {
        guard (1...1024).contains(workers) else { throw ValidationError("--workers must be between 1 and 1024 (got \(workers))") }
        try membership.validate(workers: workers)
        try security.validate(bind: bind)
        if transport.parameterServers > 0, training.clipNorm != nil {
            throw ValidationError("--clip-norm needs the whole gradient's norm, which no parameter server holds: drop --clip-norm or --parameter-servers")
        }
    }

    public func run() throws {
        PlainLogHandler.bootstrap(verbose: verbose)
        let logger = Logger(label: "coordinator")
        let data = try dataOptions.prepare(splits, seed: training.seed ?? TrainingConfig.standard().seed)
        logger.info("data: \(data.summary)")
        var config = training.config(inputSize: data.train.featureCount, classCount: data.train.classCount)
        let initialParameters = try training.initialParameters(for: &config)
        try data.check(compute: config.computePrecision)
        let logs = try output.logs(estimatedSteps: config.plannedSteps(sampleCount: data.train.count), resuming: membership.resume) { logger.warning("\($0)") }
        let settings = RunSettings.of(config, data: dataOptions.data, splits: splits)
        // The model keeps the training settings alone: the same weights from another copy of the data are the same file.
        let modelSettings = RunSettings.of(config, data: nil, splits: splits)
        BLAS.useOneThread()
        logger.info("\(RunLines.configuration(config))")
        logger.info("\(BLASKernels.summary)")

        ProcessSignals.ignoreBrokenPipes()
        ProcessSignals.stopAtTheEndOfTheStep()
        let context = try Context(ioThreads: Coordinator.ioThreads(workers: workers))
        var options = membership.options(workers: workers, wirePrecision: transport.wirePrecision, sharedMemory: transport.sharedMemory.isOn)
        options.parameterServers = transport.parameterServers
        let coordinator = try Coordinator(config: config, train: data.train, test: data.test, validation: data.validation, testEveryEpoch: splits.testEveryEpoch, initialParameters: initialParameters,
                                          options: options,
                                          endpoint: bind, context: context, logger: logger,
                                          security: try security.security(context: context, logger: logger))
        RunLine(runID: coordinator.runID, trainer: "coordinator", resumed: membership.resume, config: config,
                trainSamples: data.train.count, testSamples: data.test.count,
                logEvery: logs.every, settings: settings,
                coordinator: membership.runLineFields(workers: workers, endpoint: coordinator.endpoint)).write(to: logs)
        var observers: [TrainingObserver] = [ProgressDisplay(), logs]
        let series = Series(labels: Series.labels(runID: coordinator.runID, role: "coordinator", member: nil))
        let endpoint = try prometheus.start(series) { logger.info("\($0)") }
        if endpoint != nil { observers.append(TrainingSeries(series)) }
        defer { endpoint?.finish { logger.info("\($0)") } }
        let report = try coordinator.run(observer: ObserverList(observers))
        if coordinator.stoppedBySignal != 0 {
            // A scheduler's preemption: keep what was trained, and exit 0 so it is not taken for a failure.
            var wrote = coordinator.lastCheckpoint.map { ["checkpoint \($0)"] } ?? []
            if let save = output.save {
                let partial = ModelFile.Partial(stepsDone: Int(coordinator.machine.step),
                                                stepsPlanned: config.plannedSteps(sampleCount: data.train.count))
                try ModelSaving.save(spec: config.model, parameters: coordinator.parameters, normalization: data.normalization, to: save,
                                     partial: partial, checkpointFolder: membership.checkpoint, settings: modelSettings)
                wrote.append("model \(save) (\(partial))")
            }
            print("stopped by signal \(coordinator.stoppedBySignal) at step \(coordinator.machine.step): "
                  + (wrote.isEmpty ? "nothing written (no --checkpoint or --save)" : "wrote " + wrote.joined(separator: " and ")))
            return
        }
        print(RunLines.done(report, workers: report.workers))
        if let save = output.save {
            try ModelSaving.save(spec: config.model, parameters: coordinator.parameters, normalization: data.normalization, to: save,
                                 checkpointFolder: membership.checkpoint, settings: modelSettings)
            print("saved the model to \(save)")
        }
        try splits.saveBestModel(coordinator.evaluation, spec: config.model, normalization: data.normalization, settings: modelSettings)
    }
}
