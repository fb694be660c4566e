import Dataset
import Foundation
import Logging
import MLP
import Distributed
import Roles
import Training
import ZMQ

/// `dptrain bench --workers 1,2,4`: real worker processes, a coordinator in
/// this process, the figures of each run side by side.
struct DistributedBench {
    let workerCounts: [Int]
    let batch: Int
    let epochs: Int

    func run(data: MNIST) throws {
        var config = TrainingConfig.standard(inputSize: data.train.featureCount, classCount: data.train.classCount)
        config.batchSize = batch
        config.epochs = epochs
        print("784-128-10, \(batch) samples per worker per step, \(counted(epochs, "epoch")), workers over ipc on this machine")
        print("workers  samples/s  speed-up  accuracy  wait ms  (first)  reduce ms  update ms  bcast ms  compute max/min ms  bytes/step")
        var firstRate: Double?
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        for count in workerCounts {
            let endpoint = "ipc://\(NSTemporaryDirectory())dptrain-bench-\(getpid())-\(count).sock"
            let context = try Context(ioThreads: Coordinator.ioThreads(workers: count))
            let quiet = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
            let coordinator = try Coordinator(config: config, train: data.train, test: data.test,
                                              options: CoordinatorOptions(workers: count),
                                              endpoint: endpoint, context: context, logger: quiet)
            let workers = try (0..<count).map { _ -> Process in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["worker", "--connect", endpoint, "--give-up-after", "60"]
                process.standardError = FileHandle.nullDevice
                try process.run()
                return process
            }
            defer {
                workers.filter(\.isRunning).forEach { $0.terminate() }
                workers.forEach { $0.waitUntilExit() }
                try? FileManager.default.removeItem(atPath: String(endpoint.dropFirst("ipc://".count)))
            }
            let report = try coordinator.run()
            let rate = report.samplesPerSecond
            firstRate = firstRate ?? rate
            let timings = report.timings ?? StepTimings()
            let steps = Double(max(timings.steps, 1))
            func ms(_ nanoseconds: UInt64) -> String { String(format: "%.3f", Double(nanoseconds) / 1e6 / steps) }
            let row = [String(count), ProgressDisplay.grouped(rate),
                       String(format: "%.2fx", rate / firstRate!),
                       String(format: "%.4f", report.testAccuracy),
                       ms(timings.waitNanoseconds), ms(timings.firstGradientNanoseconds), ms(timings.reduceNanoseconds), ms(timings.updateNanoseconds),
                       ms(timings.broadcastNanoseconds),
                       "\(ms(timings.slowestComputeNanoseconds))/\(ms(timings.fastestComputeNanoseconds))",
                       ProgressDisplay.grouped(Double(timings.bytes) / steps)]
            let widths = [7, 10, 9, 9, 8, 8, 10, 10, 9, 19, 11]
            print(zip(row, widths).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(separator: " "))
        }
    }
}
