import ArgumentParser
import Training

/// --checkpoint, --checkpoint-every and --resume: the coordinator's and the single process's alike.
public struct CheckpointOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write checkpoints into this folder.", valueName: "dir"))
    public var checkpoint: String?

    @Option(name: .customLong("checkpoint-every"), parsing: .unconditional, help: ArgumentHelp("Steps between checkpoints (default: at the end of each epoch; always at the end).", valueName: "steps"))
    public var checkpointEvery: Int?

    @Flag(help: "Go on from the newest good checkpoint in --checkpoint.")
    public var resume = false

    public init() {}

    public func validate() throws {
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1 step") }
        if checkpointEvery != nil && checkpoint == nil { throw ValidationError("--checkpoint-every needs --checkpoint DIR") }
        if resume && checkpoint == nil { throw ValidationError("--resume needs --checkpoint DIR, the folder to resume from") }
        if let checkpoint { try OutputPath.checkFolder(checkpoint, flag: "--checkpoint") }
    }
}
