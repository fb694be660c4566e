import Dataset
import Foundation
import Logging
import MLP
import Distributed
import Plan
import Roles
import Training
import ZMQ

/// `dptrain bench workers 1,2,4` and `bench secure 2`: real worker processes, a coordinator in
/// this process, the figures of each run side by side. With `secure`, each count
/// runs twice over tcp loopback, in plaintext and then with CURVE, for the cost of encryption.
struct DistributedBench {
    let workerCounts: [Int]
    let batch: Int
    let shards: Int?
    let epochs: Int
    var secure = false
    /// With `secure`: plaintext and CURVE runs, alternating, this many times each; the medians are compared,
    /// so that a busy machine's noise falls on both alike.
    var rounds = 1
    /// With a fraction: each count runs over ipc with `--verify 0` and with this fraction,
    /// alternating `rounds` times, for what verification by recomputation costs.
    var verify: Double?

    enum Transport: String {
        case ipc = "ipc"
        case plainTCP = "tcp"
        case curveTCP = "tcp+CURVE"
    }

    func run(data: PreparedData) throws {
        var config = TrainingConfig.standard(inputSize: data.train.featureCount, classCount: data.train.classCount)
        config.batchSize = batch
        config.shards = shards
        config.epochs = epochs
        let transports: [Transport] = secure ? [.plainTCP, .curveTCP] : [.ipc]
        // Each kind of run: its transport and --verify fraction.
        let kinds: [(transport: Transport, verify: Double)] = verify.map { [(.ipc, 0), (.ipc, $0)] }
            ?? transports.map { ($0, CoordinatorOptions.defaultVerify) }
        let compares = secure || verify != nil
        print("784-128-10, \(batch) samples per step in \(counted(config.shardCount, "shard")), \(counted(epochs, "epoch")), workers over \(transports.map(\.rawValue).joined(separator: " and ")) on this machine")
        print("workers  transport   samples/s  speed-up  accuracy  wait ms  (first)  reduce ms  update ms  bcast ms  compute max/min ms  bytes/step")
        var firstRate: Double?
        for count in workerCounts {
            var rates: [String: [Double]] = [:]
            for kind in Array(repeating: kinds, count: compares ? rounds : 1).joined() {
                let report = try measure(config: config, data: data, workers: count, transport: kind.transport, verify: kind.verify)
                let rate = report.samplesPerSecond
                let label = verify == nil ? kind.transport.rawValue : "verify \(kind.verify)"
                rates[label, default: []].append(rate)
                firstRate = firstRate ?? rate
                let timings = report.timings ?? StepTimings()
                let steps = Double(max(timings.steps, 1))
                func ms(_ nanoseconds: UInt64) -> String { String(format: "%.3f", Double(nanoseconds) / 1e6 / steps) }
                let row = [String(count), label, ProgressDisplay.grouped(rate),
                           String(format: "%.2fx", rate / firstRate!),
                           String(format: "%.4f", report.testAccuracy),
                           ms(timings.waitNanoseconds), ms(timings.firstGradientNanoseconds), ms(timings.reduceNanoseconds), ms(timings.updateNanoseconds),
                           ms(timings.broadcastNanoseconds),
                           "\(ms(timings.slowestComputeNanoseconds))/\(ms(timings.fastestComputeNanoseconds))",
                           ProgressDisplay.grouped(Double(timings.bytes) / steps)]
                let widths = [7, 10, 11, 9, 9, 8, 8, 10, 10, 9, 19, 11]
                print(zip(row, widths).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(separator: " "))
            }
            if let verify, let off = rates["verify 0.0"].map(BenchList.median), let on = rates["verify \(verify)"].map(BenchList.median) {
                print(String(format: "%@: --verify %@ runs at %.1f%% of --verify 0's samples/s (medians of %@ each: %@ vs %@)",
                             counted(count, "worker"), "\(verify)", 100 * on / off, counted(rounds, "run"),
                             ProgressDisplay.grouped(on), ProgressDisplay.grouped(off)))
            }
            if let plain = rates[Transport.plainTCP.rawValue].map(BenchList.median), let curve = rates[Transport.curveTCP.rawValue].map(BenchList.median) {
                print(String(format: "%@: CURVE runs at %.1f%% of plaintext's samples/s (medians of %@ each: %@ vs %@)",
                             counted(count, "worker"), 100 * curve / plain, counted(rounds, "run"),
                             ProgressDisplay.grouped(curve), ProgressDisplay.grouped(plain)))
            }
        }
    }

    /// One run: a coordinator here, `workers` worker processes, over `transport`; `observer`
    /// watches the coordinator's run, and worker N (from 1) gets `workerArguments(N)` besides its own.
    func measure(config: TrainingConfig, data: PreparedData, workers count: Int, transport: Transport, verify: Double,
                 observer: TrainingObserver? = nil, workerArguments: (Int) -> [String] = { _ in [] }) throws -> TrainingReport {
        let endpoint = transport == .ipc
            ? "ipc://\(NSTemporaryDirectory())dptrain-bench-\(getpid())-\(count).sock" : "tcp://127.0.0.1:*"
        let context = try Context(ioThreads: Coordinator.ioThreads(workers: count))
        let quiet = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let keys = transport == .curveTCP ? try ThrowawayKeys(workers: count) : nil
        defer { keys?.remove() }
        var security = SocketSecurity.none
        if let keys {
            let authorized = try AuthorizedKeys.load(directory: keys.folder + "/authorized")
            let authenticator = try Authenticator(context: context, authorizedKeys: Set(authorized.keys.keys), onRefusal: { _ in })
            security = .curveServer(try Certificate.loadSecret(path: keys.folder + "/coordinator.key_secret").keyPair!, authenticator)
        }
        ProcessSignals.ignoreBrokenPipes()
        let coordinator = try Coordinator(config: config, train: data.train, test: data.test,
                                          options: CoordinatorOptions(workers: count, verify: verify),
                                          endpoint: endpoint, context: context, logger: quiet, security: security)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let workers = try (1...count).map { worker -> Process in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            // The sockets carry everything: the transport named is the one measured (shared memory,
            // which a worker on this host would otherwise use, is `bench ceiling --shared-memory on`).
            process.arguments = ["worker", "--connect", coordinator.endpoint, "--give-up-after", "60", "--shared-memory", "off"]
                + (keys?.workerArguments(worker) ?? []) + workerArguments(worker)
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        defer {
            workers.filter(\.isRunning).forEach { $0.terminate() }
            workers.forEach { $0.waitUntilExit() }
            if transport == .ipc { try? FileManager.default.removeItem(atPath: String(endpoint.dropFirst("ipc://".count))) }
        }
        return try coordinator.run(observer: observer)
    }
}
