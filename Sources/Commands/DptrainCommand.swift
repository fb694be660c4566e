import ArgumentParser

public struct DptrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dptrain",
        abstract: "Data-parallel training of multi-layer perceptrons on MNIST-style data.",
        discussion: """
            dptrain trains on the MNIST files it ships with; no download, no flag needed.
            Start with `dptrain launch --workers 2`, or `dptrain train` for one process,
            then `dptrain evaluate --model FILE` or `dptrain predict --model FILE`.
            """,
        version: BuildInfo.line(program: "dptrain"),
        subcommands: [LaunchCommand.self, TrainCommand.self, CoordinatorCommand.self, WorkerCommand.self, ParameterServerCommand.self, EvaluateCommand.self, PredictCommand.self, ConfigCommand.self, ReportCommand.self, SpeedrunCommand.self,
                      BenchCommand.self, KeygenCommand.self],
        defaultSubcommand: TrainCommand.self)

    public init() {}
}
