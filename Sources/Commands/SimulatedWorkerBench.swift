import Dataset
import Foundation
import Logging
import MLP
import Distributed
import Plan
import Roles
import Training
import Wire
import ZMQ

/// `dptrain bench ceiling 1,2,4,8`: the coordinator's ceiling. A real
/// coordinator (the production driver, over tcp loopback) trains against simulated workers,
/// threads of this process with their own sockets, that answer each step at once with a
/// stored gradient: what is left is the coordinator's own cost per step, which bounds what
/// adding workers can give. With `bind`, the simulated workers and the parameter servers are other
/// processes' (`bench ceiling N --connect`, `dptrain parameter-server`), so that the ceiling can be
/// measured across a real or shaped link.
struct SimulatedWorkerBench {
    let workerCounts: [Int]
    let hidden: [Int]
    let batch: Int
    let steps: Int
    let precision: WirePrecision
    let sharedMemory: Bool
    let metrics: MetricsLog?
    /// Parameter servers, threads of this process (with `bind`, other processes); 0: the coordinator holds the weights.
    var parameterServers = 0
    /// Where the coordinator binds when its simulated workers and servers run in other processes
    /// (`dptrain bench ceiling N --connect`, `dptrain parameter-server`); nil: tcp loopback, with
    /// them as threads here.
    var bind: String? = nil

    /// One worker count's figures, over the steps' own time (broadcast, wait, reduce, update:
    /// the epoch ends, which score a tiny test set, are left out).
    struct Figures {
        let workers: Int
        let timings: StepTimings

        var seconds: Double {
            Double(timings.broadcastNanoseconds + timings.waitNanoseconds + timings.reduceNanoseconds + timings.updateNanoseconds) / 1e9
        }
        var stepsPerSecond: Double { Double(timings.steps) / seconds }
        func samplesPerSecond(batch: Int) -> Double { stepsPerSecond * Double(workers * batch) }
        var megabytesPerSecond: Double { Double(timings.bytes) / seconds / 1e6 }
        func milliseconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 / Double(max(timings.steps, 1)) }
    }

    var model: ModelSpec { ModelSpec(layerSizes: [784] + hidden + [10]) }

    func run() throws {
        let megabytes = Double(model.parameterCount * precision.bytesPerValue) / 1e6
        // The simulated workers' own gradient (one shard each: chunks of `batch`), for its packed size.
        let gradient = SimulatedWorker.storedGradient(count: model.parameterCount, chunk: batch,
                                                      format: FixedPointFormat(largestChunk: batch, precision: precision))
        print("\(model.summary), \(batch) samples per worker per step, \(steps) steps, weights as \(precision), gradients as exact sums "
              + String(format: "packed as a converging run's (%.2f MB of weights and %.2f MB of gradient per worker), ", megabytes,
                       Double(model.parameterCount * gradient.packedWidth) / 1e6)
              + (bind.map { "simulated workers from other processes (--connect), the coordinator bound at \($0)" }
                 ?? (sharedMemory ? "simulated workers in shared memory (control messages over tcp loopback)" : "simulated workers over tcp loopback")))
        print("workers  steps/s   samples/s      MB/s  bcast ms  wait ms  (first)  reduce ms  update ms  MB/step")
        for count in workerCounts {
            let figures = try measure(workers: count)
            let row = [String(count), String(format: "%.1f", figures.stepsPerSecond),
                       ProgressDisplay.grouped(figures.samplesPerSecond(batch: batch)),
                       String(format: "%.0f", figures.megabytesPerSecond),
                       String(format: "%.3f", figures.milliseconds(figures.timings.broadcastNanoseconds)),
                       String(format: "%.3f", figures.milliseconds(figures.timings.waitNanoseconds)),
                       String(format: "%.3f", figures.milliseconds(figures.timings.firstGradientNanoseconds)),
                       String(format: "%.3f", figures.milliseconds(figures.timings.reduceNanoseconds)),
                       String(format: "%.3f", figures.milliseconds(figures.timings.updateNanoseconds)),
                       String(format: "%.2f", Double(figures.timings.bytes) / Double(max(figures.timings.steps, 1)) / 1e6)]
            let widths = [7, 8, 11, 9, 9, 8, 8, 10, 10, 8]
            print(zip(row, widths).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(separator: " "))
            metrics?.write(event: "bench", [
                ("workers", .int(count)), ("samples_per_second", .double(figures.samplesPerSecond(batch: batch))),
                ("steps_per_second", .double(figures.stepsPerSecond)), ("megabytes_per_second", .double(figures.megabytesPerSecond)),
                ("model", .string(model.summary)), ("batch_per_worker", .int(batch)), ("wire_precision", .string(precision.rawValue)),
                ("shared_memory", .string(sharedMemory ? "on" : "off")),
                ("steps", .int(figures.timings.steps)),
            ] + figures.timings.metricsFields)
        }
    }

    /// A coordinator and `workers` simulated workers, trained for `steps` steps.
    func measure(workers: Int) throws -> Figures {
        // A few steps per epoch keeps each shard small; the steps' timings leave the epoch ends out.
        let stepsPerEpoch = min(steps, 8)
        var config = TrainingConfig.standard()
        config.model = model
        // --batch is per simulated worker here: one shard each, so that every worker answers every step.
        config.batchSize = workers * batch
        config.shards = workers
        config.epochs = (steps + stepsPerEpoch - 1) / stepsPerEpoch
        let train = Self.blankImages(count: workers * batch * stepsPerEpoch)
        let test = Self.blankImages(count: 10)

        let quiet = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let context = try Context(ioThreads: Coordinator.ioThreads(workers: workers))
        ProcessSignals.ignoreBrokenPipes()
        // Simulated workers answer with one stored gradient, not their chunks': nothing to verify.
        var options = CoordinatorOptions(workers: workers, wirePrecision: precision, sharedMemory: sharedMemory, verify: 0)
        options.parameterServers = parameterServers
        let coordinator = try Coordinator(config: config, train: train, test: test, options: options,
                                          endpoint: bind ?? "tcp://127.0.0.1:*", context: context, logger: quiet)
        let threads: BenchThreads
        if bind == nil {
            let serverContext = try Context(ioThreads: 1)
            let servers = try (0..<parameterServers).map { _ in
                try ParameterServer(coordinator: coordinator.endpoint, bind: "tcp://127.0.0.1:0", context: serverContext, logger: quiet)
            }
            threads = try BenchThreads(simulatedWorkers: workers, endpoint: coordinator.endpoint, sharedMemory: sharedMemory,
                                       also: servers.map { server in { try server.run() } })
        } else {
            // The simulated workers and servers come from other processes, perhaps across a shaped link.
            threads = BenchThreads([])
            print("coordinator at \(coordinator.endpoint), waiting for \(counted(workers, "simulated worker")) "
                  + "(dptrain bench ceiling \(workers) --connect \(coordinator.endpoint))"
                  + (parameterServers > 0 ? " and \(counted(parameterServers, "parameter server")) (dptrain parameter-server --connect \(coordinator.endpoint) --bind ENDPOINT)" : ""))
        }
        let report = try coordinator.run()
        try threads.wait()
        return Figures(workers: workers, timings: report.timings ?? StepTimings())
    }

    /// `count` black images, labels cycling through the ten classes: the coordinator only
    /// needs samples to hand out, and the simulated workers never look at them.
    static func blankImages(count: Int) -> LabeledImages {
        LabeledImages(pixels: [UInt8](repeating: 0, count: count * 784), labels: (0..<count).map { UInt8($0 % 10) },
                      featureCount: 784, classCount: 10)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

/// Simulated workers, and anything else the bench runs beside its coordinator (parameter
/// servers), as threads of this process, until the coordinator's run ends: the bench's own, or
/// with `dptrain bench ceiling N --connect`, a coordinator in another process.
final class BenchThreads {
    private let finished = DispatchGroup()
    private let failures = FailureList()

    /// `count` simulated workers, each with its own socket to `endpoint`, and the `also` runs.
    convenience init(simulatedWorkers count: Int, endpoint: String, sharedMemory: Bool, also: [() throws -> Void] = []) throws {
        let context = try Context(ioThreads: 1)
        let workers = try (0..<count).map { _ in try SimulatedWorker(endpoint: endpoint, context: context, sharedMemory: sharedMemory) }
        self.init(workers.map { worker in { try worker.run() } } + also)
    }

    /// Starts a thread for each run.
    init(_ runs: [() throws -> Void]) {
        for run in runs {
            finished.enter()
            let thread = Thread { [finished, failures] in
                do { try run() } catch { failures.append("\(error)") }
                finished.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Waits for every thread to end; throws the first one's failure.
    func wait() throws {
        finished.wait()
        if let failure = failures.first { throw BenchError(description: "a simulated worker or server failed: \(failure)") }
    }
}

/// Errors of the bench's threads, gathered for the main thread.
private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String] = []

    func append(_ failure: String) { lock.withLock { failures.append(failure) } }
    var first: String? { lock.withLock { failures.first } }
}
