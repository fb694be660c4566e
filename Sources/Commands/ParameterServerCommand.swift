import ArgumentParser
import Distributed
import Foundation
import Logging
import MLP
import Monitoring
import Wire
import ZMQ

public struct ParameterServerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "parameter-server",
        abstract: "Hold a range of the weights for a coordinator run with --parameter-servers: add the workers' gradients for it, step the optimizer, send them the new weights.",
        discussion: """
            Start one per machine beside that machine's workers, before or after the coordinator: it says hello \
            with backoff, the coordinator gives it a contiguous range of the parameters, and every worker sends it \
            that range of its gradient sum and takes that range of the weights from it, so that no parameter-sized \
            message crosses the coordinator's link. It exits 0 when training is done.
            """,
        version: BuildInfo.line(program: "parameter-server"))

    @Option(help: ArgumentHelp("The coordinator's endpoint: tcp://HOST:PORT or ipc:///PATH (default: $\(WorkerCommand.endpointVariable)).", valueName: "endpoint"))
    var connect: String?

    @Option(help: ArgumentHelp("Where the workers connect to this server: tcp://HOST:PORT (port 0: any free port, said to the coordinator) or ipc:///PATH.", valueName: "endpoint"))
    var bind: String

    @Option(name: .customLong("give-up-after"), parsing: .unconditional, help: ArgumentHelp("Seconds of silence from the coordinator before exiting.", valueName: "seconds"))
    var giveUpAfter: Double = 300

    @Option(name: .customLong("shared-memory"), help: ArgumentHelp("Accepted for the same command lines as a worker's; members reach a server over its socket.", valueName: "on|off"))
    var sharedMemory: Switch = .on

    @OptionGroup(title: "Security") var security: WorkerSecurityOptions
    @OptionGroup var prometheus: PrometheusOptions

    @Flag(help: "Let the server run without keys on an address other machines can reach (plaintext, any member).")
    var insecure = false

    @Flag(help: "Log every detail, debug lines included.")
    var verbose = false

    public init() {}

    public func validate() throws {
        _ = try endpoint()
        guard giveUpAfter > 0 && giveUpAfter.isFinite else { throw ValidationError("--give-up-after must be a positive number of seconds") }
        if insecure && security.files.key != nil { throw ValidationError("--insecure and --key contradict each other: choose one") }
        if !insecure, security.files.key == nil, CoordinatorSecurityOptions.isReachableFromNetwork(bind) {
            throw ValidationError("--bind \(bind) can be reached from the network, and without keys any process that reaches it could send gradients or read the weights: give --key FILE and --coordinator-key FILE (the coordinator then names the members this server takes), or add --insecure for a plaintext run on a network you trust")
        }
    }

    func endpoint() throws -> String {
        if let connect { return connect }
        if let fromEnvironment = ProcessInfo.processInfo.environment[WorkerCommand.endpointVariable]?.trimmingCharacters(in: .whitespaces), !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        throw ValidationError("parameter-server needs its coordinator's endpoint: pass --connect tcp://HOST:PORT or set \(WorkerCommand.endpointVariable)")
    }

    public func run() throws {
        PlainLogHandler.bootstrap(verbose: verbose)
        ProcessSignals.ignoreBrokenPipes()
        ProcessSignals.stopAtTheEndOfTheStep()
        let context = try Context()
        let logger = Logger(label: "parameter-server")
        let server = try ParameterServer(coordinator: endpoint(), bind: bind, context: context, logger: logger,
                                         giveUpAfterSeconds: giveUpAfter, security: try security.security())
        let series = Series(labels: Series.labels(runID: nil, role: "parameter_server", member: nil))
        let metricsEndpoint = try prometheus.start(series) { logger.info("\($0)") }
        if metricsEndpoint != nil { server.monitor = ParameterServerSeries(registry: series.registry) }
        defer { metricsEndpoint?.finish { logger.info("\($0)") } }
        do {
            try server.run()
        } catch WorkerError.stopped {
            return
        }
    }
}
