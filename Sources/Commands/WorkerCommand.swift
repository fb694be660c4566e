import ArgumentParser
import Foundation
import Logging
import MLP
import Monitoring
import Distributed
import Roles
import Training
import Wire
import ZMQ

public struct WorkerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Compute gradients for a coordinator; everything else comes from it.",
        discussion: """
            Start it before or after the coordinator: it waits, retrying with backoff, and exits 0 when training is done. \
            On SIGTERM or Ctrl-C it finishes the step in hand, says goodbye and exits 0. If its coordinator goes \
            quiet it rejoins whichever coordinator answers at the endpoint (a restarted one resumes with it).
            """,
        version: BuildInfo.line(program: "worker"))

    @Option(help: ArgumentHelp("The coordinator's endpoint: tcp://HOST:PORT or ipc:///PATH (default: $\(Self.endpointVariable)).", valueName: "endpoint"))
    var connect: String?

    /// Where a scheduler's template puts the endpoint, like torchrun's MASTER_ADDR, so that one
    /// command line serves every host.
    static let endpointVariable = "DPTRAIN_COORDINATOR"

    @Option(name: .customLong("give-up-after"), parsing: .unconditional, help: ArgumentHelp("Seconds of silence from the coordinator before exiting.", valueName: "seconds"))
    var giveUpAfter: Double = 300

    @Option(name: .customLong("shared-memory"), help: Switch.sharedMemoryHelp)
    var sharedMemory: Switch = .on
    @Flag(help: "Join a run whose BLAS kernels are not this worker's (it is refused otherwise): the run goes on, but its weights may differ in the last bits from one process's.")
    var acceptOtherKernels = false

    @OptionGroup var runFile: RunFileOption
    @OptionGroup(title: "Security") var security: WorkerSecurityOptions
    @OptionGroup var prometheus: PrometheusOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Flag(help: "Log every detail, debug lines included.")
    var verbose = false

    public init() {}

    public func validate() throws {
        _ = try endpoint(environment: ProcessInfo.processInfo.environment)
        guard giveUpAfter > 0 && giveUpAfter.isFinite else { throw ValidationError("--give-up-after must be a positive number of seconds") }
    }

    /// --connect, else the environment's DPTRAIN_COORDINATOR; a blank value counts as none.
    func endpoint(environment: [String: String]) throws -> String {
        if let connect { return connect }
        if let fromEnvironment = environment[Self.endpointVariable]?.trimmingCharacters(in: .whitespaces), !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        throw ValidationError("worker needs its coordinator's endpoint: pass --connect tcp://HOST:PORT or set \(Self.endpointVariable)")
    }

    public func run() throws {
        PlainLogHandler.bootstrap(verbose: verbose)
        BLAS.useOneThread()
        ProcessSignals.ignoreBrokenPipes()
        ProcessSignals.stopAtTheEndOfTheStep()
        let context = try Context()
        let logger = Logger(label: "worker")
        let worker = try Worker(endpoint: endpoint(environment: ProcessInfo.processInfo.environment), context: context, logger: logger,
                                giveUpAfterSeconds: giveUpAfter, leavesOnStopSignal: true, sharedMemory: sharedMemory.isOn,
                                acceptsOtherKernels: acceptOtherKernels,
                                faults: .fromEnvironment(ProcessInfo.processInfo.environment,
                                                         seed: UInt64(ProcessInfo.processInfo.processIdentifier)),
                                security: try security.security(), threads: threadOptions.count())
        let series = Series(labels: Series.labels(runID: nil, role: "worker", member: nil))
        let endpoint = try prometheus.start(series) { logger.info("\($0)") }
        if endpoint != nil { worker.monitor = WorkerSeries(registry: series.registry) }
        defer { endpoint?.finish { logger.info("\($0)") } }
        do {
            try worker.run()
        } catch WorkerError.stopped {
            return   // asked to stop before it had joined: nothing to leave
        }
    }
}
