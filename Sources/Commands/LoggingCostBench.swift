import Dataset
import Foundation
import Roles
import Training

/// `dptrain bench --logging-cost`: what the metrics file and TensorBoard cost a
/// training run at the default --log-every. Single-process runs, whose steps are
/// the shortest and so feel logging most, alternate without and with both logs;
/// the time spent inside the two logs is also clocked directly.
struct LoggingCostBench {
    let rounds: Int

    func run(data: MNIST) throws {
        var config = TrainingConfig.standard(inputSize: data.train.featureCount, classCount: data.train.classCount)
        let epochs = config.epochs
        let steps = epochs * ((data.train.count + config.batchSize - 1) / config.batchSize)
        let every = StepSampler.defaultInterval(forSteps: steps)
        let folder = NSTemporaryDirectory() + "dptrain-logging-cost-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        print("\(config.model.summary), batch \(config.batchSize), \(epochs) epoch(s) of \(steps / epochs) steps a run, --log-every \(every) (the default), \(rounds) runs each way, alternating")

        var without: [Double] = [], with: [Double] = []
        var insideLogs: UInt64 = 0, training = 0.0
        for round in 1...rounds {
            without.append(try SingleProcessTrainer(config: config, train: data.train, test: data.test).run().samplesPerSecond)
            let logs = ClockedObservers([
                try MetricsLog(path: "\(folder)/run-\(round).jsonl", logEvery: every),
                try TensorBoardLog(directory: "\(folder)/board-\(round)", logEvery: every),
            ])
            let report = try SingleProcessTrainer(config: config, train: data.train, test: data.test).run(observer: logs)
            with.append(report.samplesPerSecond)
            insideLogs += logs.nanoseconds
            training += Double(report.samples ?? 0) / report.samplesPerSecond
        }
        let plain = median(without), logged = median(with)
        print("without logs:                 \(ProgressDisplay.grouped(plain)) samples/s (median; runs \(without.map(ProgressDisplay.grouped).joined(separator: ", ")))")
        print("with metrics and TensorBoard: \(ProgressDisplay.grouped(logged)) samples/s (median; runs \(with.map(ProgressDisplay.grouped).joined(separator: ", ")))")
        print(String(format: "throughput difference: %.2f%%", 100 * (plain - logged) / plain))
        print(String(format: "time inside the two logs: %.1f ms of %.2f s of training, %.3f%%",
                     Double(insideLogs) / 1e6, training, 100 * Double(insideLogs) / 1e9 / training))
    }

    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// Passes every call on to `observers` and adds up the time spent in them.
final class ClockedObservers: TrainingObserver {
    private let observers: [TrainingObserver]
    private(set) var nanoseconds: UInt64 = 0

    init(_ observers: [TrainingObserver]) { self.observers = observers }

    private func clocked(_ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        nanoseconds += DispatchTime.now().uptimeNanoseconds - start
    }

    func stepFinished(_ progress: StepProgress) { clocked { observers.forEach { $0.stepFinished(progress) } } }
    func epochFinished(_ report: TrainingReport) { clocked { observers.forEach { $0.epochFinished(report) } } }
    func trainingFinished(_ report: TrainingReport) { clocked { observers.forEach { $0.trainingFinished(report) } } }
    func event(_ name: String, _ fields: [(String, JSONValue)]) { clocked { observers.forEach { $0.event(name, fields) } } }
}
