import ArgumentParser
import Distributed
import Foundation
import MLP
import Plan
import Training
import Wire

/// What a distributed benchmark's runs share: the worker counts and the run each count trains.
struct DistributedBenchOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Worker counts, comma-separated: a run with each.", valueName: "counts"))
    var counts: String

    @Option(parsing: .unconditional, help: "Global batch, whatever the worker count, so that every count trains the same model.")
    var batch = 1024

    @Option(parsing: .unconditional, help: "Shards (default: --batch / 128, between 2 and 16).")
    var shards: Int?

    @Option(parsing: .unconditional, help: "Epochs each run trains.")
    var epochs = 1

    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        _ = try BenchList.counts(counts, of: "worker counts", example: "1,2,4")
        guard batch > 0, epochs > 0 else { throw ValidationError("--batch and --epochs must be at least 1") }
        if let shards, let problem = ShardPlan.problem(sampleCount: .max, shardCount: shards, batchSize: batch) { throw ValidationError(problem) }
    }

    func run(secure: Bool, rounds: Int, verify: Double? = nil) throws {
        let data = try BenchCommand.loadOnOneThread(dataOptions)
        try DistributedBench(workerCounts: BenchList.counts(counts, of: "worker counts", example: "1,2,4"), batch: batch, shards: shards,
                             epochs: epochs, secure: secure, rounds: rounds, verify: verify).run(data: data)
    }
}

/// --rounds: how many runs each way a benchmark that compares two kinds of run makes.
struct RoundsOption: ParsableArguments {
    @Option(parsing: .unconditional, help: "Runs of each kind, alternating; their medians are compared.")
    var rounds = 3

    func validate() throws {
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 100 (got \(rounds))") }
    }
}

struct BenchWorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Distributed training with each number of worker processes: samples/s, speed-up, where each step's time went.",
        discussion: """
            For each count, a coordinator (in this process) and that many worker processes train \
            784-128-10 over ipc for --epochs epochs at the global batch --batch (the same for every \
            count, so every count trains the same model); prints samples/s, the speed-up over the \
            first count, and where each step's time went. Example: dptrain bench workers 1,2,4
            """)

    @OptionGroup var distributed: DistributedBenchOptions

    func run() throws { try distributed.run(secure: false, rounds: 1) }
}

struct BenchSecureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secure",
        abstract: "What CURVE encryption costs distributed training: plaintext against CURVE over tcp loopback.",
        discussion: """
            Each count runs over tcp loopback in plaintext and with CURVE keys made for the run, \
            alternating --rounds times, and a line gives the median CURVE samples/s as a share of \
            plaintext's. Example: dptrain bench secure 2 --rounds 5
            """)

    @OptionGroup var distributed: DistributedBenchOptions
    @OptionGroup var rounds: RoundsOption

    func run() throws { try distributed.run(secure: true, rounds: rounds.rounds) }
}

struct BenchVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "What verification by recomputation costs distributed training: --verify 0 against a fraction.",
        discussion: """
            Each count runs over ipc with --verify 0 and with --fraction, alternating --rounds times, \
            and a line gives the median samples/s with verification as a share of that without. \
            Example: dptrain bench verify 2 --rounds 5
            """)

    @OptionGroup var distributed: DistributedBenchOptions
    @OptionGroup var rounds: RoundsOption

    @Option(parsing: .unconditional, help: ArgumentHelp("The --verify fraction measured (default \(CoordinatorOptions.defaultVerify)).", valueName: "f"))
    var fraction = CoordinatorOptions.defaultVerify

    func validate() throws {
        guard fraction > 0 && fraction <= 1 else { throw ValidationError("--fraction must be above 0 and at most 1 (got \(fraction))") }
    }

    func run() throws { try distributed.run(secure: false, rounds: rounds.rounds, verify: fraction) }
}

struct BenchLoggingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logging",
        abstract: "What the metrics file and TensorBoard cost a training run.",
        discussion: """
            Single-process default runs (784-128-10, batch 128, 3 epochs) alternate without and with \
            --metrics and --tensorboard at the default --log-every; prints both samples/s and CPU time \
            per run, and the difference.
            """)

    @OptionGroup var rounds: RoundsOption

    @Option(name: .customLong("log-every"), parsing: .unconditional,
            help: ArgumentHelp("Steps between logged steps (default: the runs' default).", valueName: "n"))
    var logEvery: Int?

    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        if let logEvery, logEvery < 1 { throw ValidationError("--log-every must be at least 1 (got \(logEvery))") }
    }

    func run() throws {
        let data = try BenchCommand.loadOnOneThread(dataOptions)
        try LoggingCostBench(rounds: rounds.rounds, logEvery: logEvery).run(data: data)
    }
}

struct BenchPrometheusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prometheus",
        abstract: "What --prometheus costs the step loop: runs without the endpoint and with it, scraped as Prometheus does.",
        discussion: """
            Single-process runs (784-128-10) alternate without and with the endpoint, which a thread \
            of this process scrapes every --interval-ms on one kept-alive connection (as Prometheus \
            does); prints each pair's samples/s and their ratio, the CPU time of the step thread, and \
            the scrapes' durations. Pin it to one core to share that core with the HTTP threads: \
            taskset -c 0 dptrain bench prometheus --rounds 5. With --workers N, a coordinator here and \
            N worker processes (as dptrain bench workers runs them), each with its endpoint, all scraped.
            """)

    @OptionGroup var rounds: RoundsOption

    @Option(parsing: .unconditional, help: "Samples per step.")
    var batch = 128

    @Option(parsing: .unconditional, help: "Epochs each run trains (the default: about 2 s a run here, 20 scrapes).")
    var epochs = 5

    @Option(name: .customLong("interval-ms"), parsing: .unconditional, help: ArgumentHelp("Milliseconds between scrapes.", valueName: "ms"))
    var intervalMilliseconds = 100

    @Option(parsing: .unconditional, help: ArgumentHelp("0: single-process runs; N: a coordinator in this process and N worker processes over ipc, every one serving and scraped.", valueName: "n"))
    var workers = 0

    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        guard batch > 0, epochs > 0 else { throw ValidationError("--batch and --epochs must be at least 1") }
        guard (1...60_000).contains(intervalMilliseconds) else {
            throw ValidationError("--interval-ms must be between 1 and 60000 (got \(intervalMilliseconds))")
        }
        guard (0...256).contains(workers) else { throw ValidationError("--workers must be between 0 and 256 (got \(workers))") }
    }

    func run() throws {
        let data = try BenchCommand.loadOnOneThread(dataOptions)
        try PrometheusCostBench(rounds: rounds.rounds, batch: batch, epochs: epochs, interval: Double(intervalMilliseconds) / 1000, workers: workers)
            .run(data: data)
    }
}

struct BenchCeilingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceiling",
        abstract: "The coordinator's ceiling: a real coordinator against simulated workers that answer at once.",
        discussion: """
            For each count, a coordinator (in this process, over tcp loopback) against that many \
            simulated workers that answer each step at once with a stored gradient: steps/s, samples/s \
            and MB/s through the coordinator, and where each step's time went. Example: \
            dptrain bench ceiling 1,2,4,8,16 --hidden 800 --batch 512. Across a real link, the parts \
            run apart: `dptrain bench ceiling N --bind tcp://HOST:PORT --insecure [--parameter-servers K]` runs \
            the coordinator and waits for N simulated workers and K servers from elsewhere; `dptrain bench ceiling \
            N --connect tcp://HOST:PORT` runs N of the workers (several such processes may share the N), and \
            `dptrain parameter-server --connect tcp://HOST:PORT --bind ENDPOINT --insecure` a server.
            """)

    @Argument(help: ArgumentHelp("Simulated worker counts, comma-separated: a run with each.", valueName: "counts"))
    var counts: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Hidden layer widths of the model, comma-separated: 128 or 512,256.", valueName: "list"))
    var hidden = "128"

    @Option(parsing: .unconditional, help: "Samples per simulated worker per step (one shard each).")
    var batch = 1024

    @Option(parsing: .unconditional, help: "Steps each count is measured over.")
    var steps = 40

    @Option(name: .customLong("wire-precision"), help: ArgumentHelp("How weights and gradients travel: float32, or bf16 (half the bytes both ways, as for --wire-precision on the coordinator).", valueName: "format"))
    var wirePrecision: WirePrecision = .float32

    @Option(name: .customLong("shared-memory"), help: ArgumentHelp("on: weights and gradients through shared memory (as for any worker on the coordinator's host); off: over tcp loopback.", valueName: "on|off"))
    var sharedMemory: Switch = .off

    @Option(help: ArgumentHelp("Write one {\"event\":\"bench\",...} JSON line per count to this file.", valueName: "file"))
    var metrics: String?

    @Option(name: .customLong("parameter-servers"), parsing: .unconditional, help: ArgumentHelp(
        "Parameter servers holding the weights (threads of this process, over tcp loopback), as for --parameter-servers on the coordinator; 0: the coordinator holds them.", valueName: "K"))
    var parameterServers = 0

    @Option(help: ArgumentHelp("Run only the coordinator, bound here, and wait for the count's simulated workers (--connect) and the --parameter-servers from other processes: tcp://HOST:PORT (port *: any free one, printed) or ipc:///PATH. One count.", valueName: "endpoint"))
    var bind: String?

    @Option(help: ArgumentHelp("Run only the count's simulated workers, against the coordinator of a `bench ceiling --bind` at this endpoint, until its run ends. It says the model, batch, steps and wire precision.", valueName: "endpoint"))
    var connect: String?

    @Flag(help: "With --bind: let simulated workers join in plaintext on an address other machines can reach.")
    var insecure = false

    func validate() throws {
        let counts = try BenchList.counts(counts, of: "simulated worker counts", example: "1,2,4,8,16")
        guard (0...Limits.parameterServers).contains(parameterServers) else {
            throw ValidationError("--parameter-servers must be between 0 and \(Limits.parameterServers) (got \(parameterServers))")
        }
        if bind != nil || connect != nil {
            guard bind == nil || connect == nil else { throw ValidationError("--bind runs the coordinator and --connect the simulated workers: give one, in two processes") }
            guard counts.count == 1 else { throw ValidationError("--\(bind != nil ? "bind" : "connect") takes one count of simulated workers (got \(self.counts)): a run each") }
        }
        if let bind, !insecure, CoordinatorSecurityOptions.isReachableFromNetwork(bind) {
            throw ValidationError(CoordinatorSecurityOptions.insecureBindText(bind, alternatives: "bind a loopback address (the bench takes no keys)"))
        }
        if connect != nil, metrics != nil { throw ValidationError("--metrics is the coordinator's: give it with --bind, not --connect") }
        if connect != nil, parameterServers > 0 {
            throw ValidationError("--parameter-servers is the coordinator's: give it with --bind, and start the servers with dptrain parameter-server")
        }
        guard BenchList.integers(hidden, in: 1...(1 << 16)) != nil else {
            throw ValidationError("--hidden '\(hidden)' must be comma-separated layer widths of at least 1, such as 128 or 512,256")
        }
        guard (1...100_000).contains(steps) else { throw ValidationError("--steps must be between 1 and 100000 (got \(steps))") }
        guard (1...(1 << 16)).contains(batch) else { throw ValidationError("--batch must be between 1 and 65536 per simulated worker (got \(batch))") }
        if let metrics { try OutputPath.checkFile(metrics, flag: "--metrics") }
    }

    func run() throws {
        BLAS.useOneThread()
        let counts = try BenchList.counts(counts, of: "simulated worker counts", example: "1,2,4,8,16")
        if let connect {
            ProcessSignals.ignoreBrokenPipes()
            try BenchThreads(simulatedWorkers: counts[0], endpoint: connect, sharedMemory: sharedMemory.isOn).wait()
            return print("\(counted(counts[0], "simulated worker")) answered every step of the run at \(connect)")
        }
        var bench = SimulatedWorkerBench(workerCounts: counts, hidden: BenchList.integers(hidden, in: 1...(1 << 16))!, batch: batch, steps: steps,
                                         precision: wirePrecision, sharedMemory: sharedMemory.isOn,
                                         metrics: try metrics.map { try MetricsLog(path: $0) }, parameterServers: parameterServers)
        bench.bind = bind
        try bench.run()
    }
}
