import ArgumentParser
import Foundation
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
    /// training. A resumed run appends to its metrics file. `warn` is told, in a line, when one
    /// of them cannot be written (a full disk): the run goes on, its lines are lost.
    func logs(estimatedSteps: Int, resuming: Bool = false, warn: @escaping (String) -> Void = OutputOptions.warnOnStandardError) throws -> RunLogs {
        var logs: [StepLog] = []
        if let metrics {
            let log = try MetricsLog(path: metrics, append: resuming)
            log.onWriteFailure = { warn("--metrics: \($0)") }
            logs.append(log)
        }
        if let tensorboard {
            let log = try TensorBoardLog(directory: tensorboard)
            log.writer.onWriteFailure = { warn("--tensorboard: \($0)") }
            logs.append(log)
        }
        return RunLogs(every: logInterval(estimatedSteps: estimatedSteps), logs)
    }

    /// A warning line on standard error, for commands with no logger.
    static func warnOnStandardError(_ text: String) {
        FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
    }
}
