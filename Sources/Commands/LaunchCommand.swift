import ArgumentParser
import Foundation
import Monitoring
import Supervision

struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Start a coordinator and N workers on this machine and train.",
        discussion: """
            Runs `dptrain coordinator` with every training flag given here, and N times `dptrain worker`, \
            their output prefixed [coordinator] and [worker N]. A worker that fails is started again while \
            the coordinator trains on with the others; a coordinator that fails is started again with --resume \
            when --checkpoint is given. When the restarts are used up, or on Ctrl-C, all are stopped; a process that \
            exits with a status no restart can cure (64 bad flags, 65 data or a diverged run, 74 an output cannot be \
            written, 76 another release, 78 a refused configuration) stops them all at once. \
            The exit status is the coordinator's, or 128 plus the signal that stopped the launch (130 for Ctrl-C). \
            The model is the one `dptrain train` trains with the same flags, to the bit, whatever N.
            """)

    @Option(parsing: .unconditional, help: "Worker processes to start, 1 to 256.")
    var workers: Int

    @Option(name: .customLong("max-restarts"), help: ArgumentHelp("Failed processes started again, in all, before a failure stops the run.", valueName: "n"))
    var maxRestarts = 3

    @Option(help: ArgumentHelp("Where the workers connect (default: an ipc:// socket in /tmp for this launch alone, removed at the end).", valueName: "endpoint"))
    var bind: String?

    // The coordinator's flags, declared here too so that --help lists them and bad values stop
    // the launch before any process starts. They reach the coordinator as the user wrote them.
    @Option(help: ArgumentHelp("At the end, write the run's HTML report here (dptrain report).", valueName: "file"))
    var report: String?

    @OptionGroup var runFile: RunFileOption
    @OptionGroup var training: TrainingOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var splits: SplitOptions

    @OptionGroup var output: OutputOptions
    @OptionGroup var membership: MembershipOptions
    @OptionGroup var transport: TransportOptions
    @OptionGroup var prometheus: PrometheusOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Flag(help: "Encrypt and authenticate the run with CURVE keys made for it alone (in a temporary folder, removed at the end).")
    var secure = false

    @Flag(help: "Let the coordinator run without keys on an address other machines can reach (see `dptrain coordinator --help`).")
    var insecure = false

    @Flag(help: "Log every detail, in the coordinator and the workers: each worker's samples, each slow step, each dropped message.")
    var verbose = false

    /// Seconds the processes have to end after SIGTERM, before SIGKILL.
    static let gracePeriod: TimeInterval = 5

    func validate() throws {
        guard (1...256).contains(workers) else { throw ValidationError("--workers must be between 1 and 256 (got \(workers))") }
        guard maxRestarts >= 0 else { throw ValidationError("--max-restarts must be 0 or more (got \(maxRestarts))") }
        try membership.validate(workers: workers)
        try prometheus.validate(processes: workers + 1 + transport.parameterServers)
        if secure && insecure { throw ValidationError("--secure and --insecure contradict each other: choose one") }
        if let bind, !secure, !insecure, CoordinatorSecurityOptions.isReachableFromNetwork(bind) {
            throw ValidationError(CoordinatorSecurityOptions.insecureBindText(bind, alternatives: "add --secure for keys made for this run"))
        }
        if let report { try OutputPath.checkFile(report, flag: "--report") }
    }

    /// A worker's id from its "joined as worker N" line, so that its lines carry the id the
    /// coordinator gave it rather than launch's count.
    static let workerIDFromLine: ProcessGroup.Relabel = { line in
        guard let range = line.range(of: "joined as worker ") else { return nil }
        let digits = line[range.upperBound...].prefix { $0.isNumber }
        return digits.isEmpty ? nil : "worker \(digits)"
    }

    /// Where this machine's workers connect when the coordinator binds `endpoint`: a wildcard
    /// host (`tcp://*:5555`, `tcp://0.0.0.0:5555`) is every interface to bind, but no address to connect to.
    static func connectable(_ endpoint: String) -> String {
        for wildcard in ["tcp://*:", "tcp://0.0.0.0:"] where endpoint.hasPrefix(wildcard) {
            return "tcp://127.0.0.1:" + endpoint.dropFirst(wildcard.count)
        }
        return endpoint
    }

    func run() throws {
        // Each child's lines already carry [coordinator] or [worker N]: no second label of their own.
        setenv(PlainLogHandler.labelVariable, "off", 1)
        let endpoint = bind ?? "ipc:///tmp/dptrain-launch-\(getpid()).sock"
        defer { if bind == nil { unlink(String(endpoint.dropFirst("ipc://".count))) } }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        // The report is drawn from the metrics file: one in /tmp for this launch when none was asked for.
        let reportMetrics = report == nil ? nil : output.metrics ?? "\(NSTemporaryDirectory())dptrain-launch-\(getpid()).jsonl"
        defer { if report != nil && output.metrics == nil { unlink(reportMetrics!) } }
        var coordinatorArguments = ["coordinator", "--bind", endpoint, "--workers", String(workers)]
            + Self.coordinatorFlags(fromLaunchArguments: Self.argumentsAfterLaunch(RunFiles.effectiveArguments))
            + (report != nil && output.metrics == nil ? ["--metrics", reportMetrics!] : [])
            + Self.prometheusArguments(prometheus.prometheus, process: 0)
        // Each worker's threads: as asked, or this machine's allowed cores shared among the workers.
        let threads = ["--threads", String(threadOptions.count(sharedAmong: workers))]
        var workerArguments = (1...workers).map {
            ["worker", "--connect", Self.connectable(endpoint)] + threads + Self.prometheusArguments(prometheus.prometheus, process: $0)
        }
        // Parameter servers on this machine, each at a socket of its own that a restarted one binds
        // again, so that the workers find its replacement where they found it.
        let servers = transport.parameterServers
        let serverEndpoints = (1...max(servers, 1)).prefix(servers).map { "ipc:///tmp/dptrain-launch-\(getpid())-server-\($0).sock" }
        defer { serverEndpoints.forEach { unlink(String($0.dropFirst("ipc://".count))) } }
        var serverArguments = serverEndpoints.enumerated().map { index, bind in
            ["parameter-server", "--connect", Self.connectable(endpoint), "--bind", bind]
                + Self.prometheusArguments(prometheus.prometheus, process: workers + 1 + index)
        }
        // A server is admitted by key as a worker is: the keys after the workers' are theirs.
        let keys = secure ? try ThrowawayKeys(workers: workers + servers) : nil
        defer { keys?.remove() }
        if let keys {
            coordinatorArguments += keys.coordinatorArguments
            for worker in 1...workers { workerArguments[worker - 1] += keys.workerArguments(worker) }
            for server in 0..<servers { serverArguments[server] += keys.workerArguments(workers + 1 + server) }
        }

        // A restarted coordinator goes on from its newest checkpoint (or from the beginning, when it
        // died before writing one); without a checkpoint folder it would start over, so it is not restarted.
        let coordinatorRestart = membership.checkpoint == nil ? nil
            : coordinatorArguments + (membership.resume ? [] : ["--resume"])

        // On a terminal the coordinator's bar is drawn below the children's lines.
        let terminal = LaunchTerminal.isAvailable ? LaunchTerminal() : nil
        if terminal != nil { LaunchTerminal.askChildrenForFrames() }
        let group = ProcessGroup(name: "launch", gracePeriod: Self.gracePeriod, maxRestarts: maxRestarts,
                                 incurableStatuses: ExitStatus.incurable, sink: terminal?.write ?? ProcessGroup.writeToParent)
        group.stopOnInterrupts()
        ProcessGroup.writeToParent(.errors, "[launch] a coordinator and \(workers) worker\(workers == 1 ? "" : "s") on \(endpoint)\(secure ? ", CURVE keys in \(keys!.folder)" : "")\n")
        do {
            try group.start(name: "coordinator", executable: executable, arguments: coordinatorArguments, endsTheGroup: true,
                            restartArguments: coordinatorRestart)
            for (index, arguments) in serverArguments.enumerated() {
                let arguments = arguments + (verbose ? ["--verbose"] : [])
                try group.start(name: "parameter server \(index + 1)", executable: executable, arguments: arguments, restartArguments: arguments)
            }
            for worker in 1...workers {
                let arguments = workerArguments[worker - 1] + (verbose ? ["--verbose"] : [])
                try group.start(name: "worker \(worker)", executable: executable, arguments: arguments, restartArguments: arguments,
                                relabel: Self.workerIDFromLine)
            }
        } catch {
            group.stop(reason: "\(error): stopping the others")
            _ = group.wait()
            throw error
        }

        let ended = group.wait()
        terminal?.finish()
        let status = group.interruptingSignal.map { 128 + $0 } ?? Self.exitStatus(ended)
        if let report, let reportMetrics {
            // A failed run's report shows how far it got.
            do {
                try ReportCommand.write(files: [reportMetrics], to: report)
                ProcessGroup.writeToParent(.errors, "[launch] wrote the report to \(report)\n")
            } catch {
                ProcessGroup.writeToParent(.errors, "[launch] no report: \(error)\n")
            }
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// The coordinator's status; a worker that failed on its own makes a successful run a failure too.
    /// (A worker the group stopped was killed by a signal, after the coordinator had ended.)
    static func exitStatus(_ ended: [(name: String, termination: ProcessGroup.Termination)]) -> Int32 {
        let coordinator = ended.first { $0.name == "coordinator" }?.termination ?? .exited(1)
        let workerFailed = ended.contains { ended in
            if case .exited(let code) = ended.termination { return code != 0 }
            return false
        }
        return coordinator.succeeded && workerFailed ? 1 : coordinator.shellStatus
    }

    /// --prometheus for the coordinator (process 0) and worker N: HOST:PORT+N, so that each has its
    /// own port in a row; with port 0, each takes any free port and logs it.
    static func prometheusArguments(_ address: String?, process: Int) -> [String] {
        guard let address, let parsed = try? EndpointAddress(address) else { return [] }
        let port = parsed.port == 0 ? 0 : Int(parsed.port) + process
        return ["--prometheus", parsed.host.contains(":") ? "[\(parsed.host)]:\(port)" : "\(parsed.host):\(port)"]
    }

    /// What followed `launch` on the command line, exactly as typed.
    static func argumentsAfterLaunch(_ commandLine: [String]) -> [String] {
        guard let launch = commandLine.dropFirst().firstIndex(of: "launch") else { return [] }
        return Array(commandLine[(launch + 1)...])
    }

    /// The launch arguments without the launcher's own --workers, --bind, --report and --max-restarts: the
    /// rest is the coordinator's, passed on as typed rather than re-serialised from parsed values.
    static func coordinatorFlags(fromLaunchArguments arguments: [String]) -> [String] {
        let launcherOptions = ["--workers", "--bind", "--report", "--max-restarts", "--prometheus", "--config", "--threads"]
        let launcherFlags = ["--secure"]
        var flags: [String] = []
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if launcherFlags.contains(argument) { continue }
            if launcherOptions.contains(argument) {
                _ = remaining.popFirst()
            } else if !launcherOptions.contains(where: { argument.hasPrefix($0 + "=") }) {
                flags.append(argument)
            }
        }
        return flags
    }
}
