import ArgumentParser
import Training

/// --metrics, --tensorboard, --log-every and --save: what a training run leaves behind.
public struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write JSON lines: the run, every --log-every steps, each epoch, each membership change and checkpoint, and the end.", valueName: "file"))
    public var metrics: String?

    @Option(help: ArgumentHelp("Write TensorBoard event files of the same figures into this folder (tensorboard --logdir DIR).", valueName: "dir"))
    public var tensorboard: String?

    @Option(name: .customLong("log-every"), help: ArgumentHelp("Steps between step lines in the metrics and TensorBoard (default: at least 100 points a run).", valueName: "n"))
    public var logEvery: Int?

    @Option(help: ArgumentHelp("Save the trained model as safetensors.", valueName: "file"))
    public var save: String?

    public init() {}

    /// Every path is checked before any data is read, so that a typo costs seconds, not a run.
    public func validate() throws {
        if let metrics { try OutputPath.checkFile(metrics, flag: "--metrics") }
        if let save { try OutputPath.checkFile(save, flag: "--save") }
        if let tensorboard { try OutputPath.checkFolder(tensorboard, flag: "--tensorboard") }
        if let logEvery, logEvery < 1 { throw ValidationError("--log-every must be at least 1 (got \(logEvery))") }
    }

    /// Steps between logged steps, for a run of about `estimatedSteps` steps.
    public func logInterval(estimatedSteps: Int) -> Int {
        logEvery ?? StepSampler.defaultInterval(forSteps: estimatedSteps)
    }

    /// The metrics file and TensorBoard writer asked for, opened now so that a bad path fails before
    /// training. A resumed run appends to its metrics file.
    func logs(estimatedSteps: Int, resuming: Bool = false) throws -> RunLogs {
        var logs: [StepLog] = []
        if let metrics { logs.append(try MetricsLog(path: metrics, append: resuming)) }
        if let tensorboard { logs.append(try TensorBoardLog(directory: tensorboard)) }
        return RunLogs(every: logInterval(estimatedSteps: estimatedSteps), logs)
    }
}
