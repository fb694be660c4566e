import ArgumentParser

/// --metrics and --save: what a training run leaves behind.
public struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write JSON lines: one per epoch (with the step-time breakdown in a distributed run) and one at the end.", valueName: "file"))
    public var metrics: String?

    @Option(help: ArgumentHelp("Save the trained model as safetensors.", valueName: "file"))
    public var save: String?

    public init() {}

    /// Both paths are checked before any data is read, so that a typo costs seconds, not a run.
    public func validate() throws {
        if let metrics { try OutputPath.checkFile(metrics, flag: "--metrics") }
        if let save { try OutputPath.checkFile(save, flag: "--save") }
    }
}
