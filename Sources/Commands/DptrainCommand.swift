import ArgumentParser

public struct DptrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dptrain",
        abstract: "Data-parallel training of multi-layer perceptrons on MNIST-style data.",
        discussion: """
            dptrain trains on the MNIST files it ships with; no download, no flag needed.
            Start with `dptrain train`, then `dptrain evaluate --model FILE`.
            """,
        subcommands: [TrainCommand.self, CoordinatorCommand.self, WorkerCommand.self, EvaluateCommand.self, BenchCommand.self],
        defaultSubcommand: TrainCommand.self)

    public init() {}
}
