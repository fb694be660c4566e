import Dataset
import Foundation
import Plan
import Roles
import Training

/// `dptrain bench logging`: what the metrics file and TensorBoard cost a
/// training run. Single-process runs, whose steps are the shortest and so feel
/// logging most, alternate without and with both logs; each run's samples/s and
/// the CPU time its thread used are compared.
struct LoggingCostBench {
    let rounds: Int
    /// nil for the default interval.
    let logEvery: Int?

    func run(data: PreparedData) throws {
        let config = TrainingConfig.standard(inputSize: data.train.featureCount, classCount: data.train.classCount)
        let steps = config.epochs * ((data.train.count + config.batchSize - 1) / config.batchSize)
        let every = logEvery ?? StepSampler.defaultInterval(forSteps: steps)
        let folder = NSTemporaryDirectory() + "dptrain-logging-cost-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        print("\(config.model.summary), batch \(config.batchSize), \(config.epochs) epochs of \(steps / config.epochs) steps a run, "
              + "--log-every \(every)\(logEvery == nil ? " (the default)" : ""): \(steps / every) step lines, \(rounds) runs each way, alternating")

        var without: [(rate: Double, cpu: Double)] = [], with: [(rate: Double, cpu: Double)] = []
        for round in 1...rounds {
            without.append(try measure(config, data, observer: nil))
            let logs = RunLogs(every: every, [
                try MetricsLog(path: "\(folder)/run-\(round).jsonl"), try TensorBoardLog(directory: "\(folder)/board-\(round)"),
            ])
            with.append(try measure(config, data, observer: logs))
        }
        func line(_ name: String, _ runs: [(rate: Double, cpu: Double)]) -> String {
            String(format: "%@ %@ samples/s, %.3f s CPU a run (medians; samples/s of each run %@)", name,
                   ProgressDisplay.grouped(BenchList.median(runs.map(\.rate))), BenchList.median(runs.map(\.cpu)),
                   runs.map { ProgressDisplay.grouped($0.rate) }.joined(separator: ", "))
        }
        print(line("without logs:                ", without))
        print(line("with metrics and TensorBoard:", with))
        let plainRate = BenchList.median(without.map(\.rate)), plainCPU = BenchList.median(without.map(\.cpu))
        let extraCPU = BenchList.median(with.map(\.cpu)) - plainCPU
        print(String(format: "cost: %.2f%% of samples/s, %.2f%% of CPU time; %.1f µs of CPU a step line",
                     100 * (plainRate - BenchList.median(with.map(\.rate))) / plainRate, 100 * extraCPU / plainCPU, 1e6 * extraCPU / Double(steps / every)))
        let defaultLines = steps / StepSampler.defaultInterval(forSteps: steps)
        print(String(format: "at that cost a line, the default --log-every (%d lines a run) costs %.2f%% of a run's CPU time",
                     defaultLines, 100 * extraCPU / Double(steps / every) * Double(defaultLines) / plainCPU))
    }

    /// A whole run's samples/s and the CPU seconds its thread used, evaluation included. CPU time
    /// barely moves when other processes take the core: on a busy machine it is the steadier figure.
    func measure(_ config: TrainingConfig, _ data: PreparedData, observer: TrainingObserver?) throws -> (rate: Double, cpu: Double) {
        let trainer = try SingleProcessTrainer(config: config, train: data.train, test: data.test)
        let start = threadCPUNanoseconds()
        let report = try trainer.run(observer: observer)
        return (report.samplesPerSecond, Double(threadCPUNanoseconds() - start) / 1e9)
    }
}

/// CPU time this thread has used, user and system.
func threadCPUNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
