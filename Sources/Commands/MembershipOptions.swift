import ArgumentParser
import Distributed
import Roles
import Training
import Wire

/// The coordinator's flags for workers coming and going, and for checkpoints.
public struct MembershipOptions: ParsableArguments {
    @Option(name: .customLong("max-workers"), parsing: .unconditional, help: "The most workers at once; more may join mid-run up to this (default unlimited).")
    public var maxWorkers: Int?

    @Option(name: .customLong("step-deadline"), parsing: .unconditional, help: ArgumentHelp("Seconds to wait for a worker's gradient, or to hear from a silent worker, before training goes on without it.", valueName: "seconds"))
    public var stepDeadline: Double = 5

    @Option(name: .customLong("verify"), parsing: .unconditional, help: ArgumentHelp("The fraction of workers' answers the coordinator recomputes and compares bit for bit, from 0 (none) to 1 (every one); a worker's first answers are always checked. An answer that differs expels its worker and rolls the run back to before its first unchecked answer (default \(CoordinatorOptions.defaultVerify)).", valueName: "fraction"))
    public var verify: Double = CoordinatorOptions.defaultVerify

    @Option(help: ArgumentHelp("on: move whole shards from slow workers to fast ones as their measured speeds call for, so that a step's workers finish together (the weights are the same either way); off: keep the split the workers' threads give (default on).",
                               valueName: "on|off"))
    public var rebalance: Switch = .on

    @OptionGroup public var checkpoints: CheckpointOptions
    public var checkpoint: String? { checkpoints.checkpoint }
    public var checkpointEvery: Int? { checkpoints.checkpointEvery }
    public var resume: Bool { checkpoints.resume }

    public init() {}

    public func validate(workers: Int) throws {
        if let maxWorkers, maxWorkers < workers {
            throw ValidationError("--max-workers \(maxWorkers) is below --workers \(workers)")
        }
        guard verify >= 0 && verify <= 1 else {
            throw ValidationError("--verify is the fraction of answers to check, from 0 to 1 (got \(verify)); 0 turns verification off")
        }
        guard stepDeadline >= 1 && stepDeadline <= 3600 else {
            throw ValidationError("--step-deadline must be between 1 and 3600 seconds (got \(stepDeadline)); workers send heartbeats every second")
        }
    }

    public func options(workers: Int, wirePrecision: WirePrecision = .float32, sharedMemory: Bool = true) -> CoordinatorOptions {
        CoordinatorOptions(workers: workers, maxWorkers: maxWorkers ?? .max, stepDeadline: stepDeadline,
                           checkpointDirectory: checkpoint, checkpointEvery: checkpointEvery, resume: resume, stopsOnSignal: true,
                           wirePrecision: wirePrecision, sharedMemory: sharedMemory, verify: verify, rebalance: rebalance.isOn)
    }

    /// The run line's account of these flags.
    func runLineFields(workers: Int, endpoint: String) -> [(String, JSONValue)] {
        [("endpoint", .string(endpoint)), ("workers", .int(workers)), ("max_workers", maxWorkers.map(JSONValue.int) ?? .encoded("null")),
         ("step_deadline", .double(stepDeadline)), ("verify", .double(verify)), ("rebalance", .bool(rebalance.isOn)), ("checkpoint", checkpoint.map(JSONValue.string) ?? .encoded("null")),
         ("checkpoint_every", checkpointEvery.map(JSONValue.int) ?? .encoded("null"))]
    }
}
