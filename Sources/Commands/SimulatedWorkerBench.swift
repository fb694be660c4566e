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
/// adding workers can give.
struct SimulatedWorkerBench {
    let workerCounts: [Int]
    let hidden: [Int]
    let batch: Int
    let steps: Int
    let precision: WirePrecision
    let sharedMemory: Bool
    let metrics: MetricsLog?
    /// Parameter servers, threads of this process; 0: the coordinator holds the weights.
    var parameterServers = 0

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
              + (sharedMemory ? "simulated workers in shared memory (control messages over tcp loopback)" : "simulated workers over tcp loopback"))
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
                                          endpoint: "tcp://127.0.0.1:*", context: context, logger: quiet)
        let workerContext = try Context(ioThreads: 1)
        let serverContext = try Context(ioThreads: 1)
        let servers = try (0..<parameterServers).map { _ in
            try ParameterServer(coordinator: coordinator.endpoint, bind: "tcp://127.0.0.1:0", context: serverContext, logger: quiet)
        }
        let simulated = try (0..<workers).map { _ in try SimulatedWorker(endpoint: coordinator.endpoint, context: workerContext, sharedMemory: sharedMemory) }
        let failures = FailureList()
        let finished = DispatchGroup()
        let runs: [() throws -> Void] = simulated.map { worker in { try worker.run() } } + servers.map { server in { try server.run() } }
        for run in runs {
            finished.enter()
            let thread = Thread {
                do { try run() } catch { failures.append("\(error)") }
                finished.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        let report = try coordinator.run()
        finished.wait()
        if let failure = failures.first { throw BenchError(description: "a simulated worker failed: \(failure)") }
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

/// Errors of the simulated workers' threads, gathered for the main thread.
private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String] = []

    func append(_ failure: String) { lock.withLock { failures.append(failure) } }
    var first: String? { lock.withLock { failures.first } }
}
