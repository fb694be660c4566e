import Foundation
import TensorBoard

/// Writes the run's events as JSON lines, one object per line: step lines reach
/// the disk within a second, every other line at once. Every
/// line has `event` and `time` (Unix seconds); docs/guide.md ("The metrics file") lists each event's
/// fields:
///   run      who, what and where: written first, and again on a resume
///   step     every --log-every steps (`RunLogs` picks them): loss, learning rate, samples/s, gradient norm, step times
///   epoch    after each epoch's evaluation
///   worker_joined, worker_lost, checkpoint, resumed, straggler   as they happen
///   done     at the end
public final class MetricsLog: StepLog {
    private let file: AppendOnlyFile
    public var path: String { file.path }
    /// Told in a sentence when the file cannot be written (`AppendOnlyFile.onFailure`).
    public var onWriteFailure: ((String) -> Void)? {
        get { file.onFailure }
        set { file.onFailure = newValue }
    }
    /// The last epoch's report: the done line's `train_loss` is that epoch's.
    private var lastEpoch: TrainingReport?

    /// Creates or truncates `path`, or with `append` (a resumed run) adds to what it holds.
    /// Throws a `FileError` that names the errno if it cannot.
    public init(path: String, append: Bool = false) throws {
        file = try AppendOnlyFile(path: path, append: append)
    }

    public func write(_ record: StepRecord) {
        var fields: [(String, JSONValue)] = [
            ("step", .int(record.step)), ("epoch", .int(record.epoch)), ("loss", .double(record.loss)),
            ("learning_rate", .double(record.learningRate)), ("samples_per_second", .double(record.samplesPerSecond)),
            ("gradient_norm", record.gradientNorm.map(JSONValue.double) ?? .encoded("null")), ("workers", .int(record.workers)),
            ("elapsed_seconds", .double(record.elapsedSeconds)),
        ]
        if let timings = record.timings { fields += timings.metricsFields }
        write(event: "step", fields, now: false)
    }

    public func epochFinished(_ report: TrainingReport) {
        lastEpoch = report
        write(event: "epoch", report)
        if let figures = report.workerFigures { writeWorkers(figures, report) }
    }

    /// Each worker's epoch, and the straggler if one held the steps back.
    func writeWorkers(_ figures: WorkerFigures, _ report: TrainingReport) {
        let workers = figures.sorted.map { worker -> JSONValue in
            .object([("worker", .int(Int(worker.id))), ("host", .string(worker.host)), ("steps", .int(worker.steps)),
                     ("samples", .int(worker.samples)), ("mean_compute_ms", .double(worker.meanComputeMilliseconds))])
        }
        write(event: "worker_figures", [("epoch", .int(report.epoch)), ("step", .int(report.step)), ("workers", .array(workers))])
        if let (slowest, median) = figures.straggler {
            write(event: "straggler", [
                ("epoch", .int(report.epoch)), ("step", .int(report.step)), ("slowest_worker", .int(Int(slowest.id))),
                ("host", .string(slowest.host)), ("mean_compute_ms", .double(slowest.meanComputeMilliseconds)),
                ("median_compute_ms", .double(median)), ("ratio", .double(slowest.meanComputeMilliseconds / median)),
            ])
        }
    }

    public func trainingFinished(_ report: TrainingReport) {
        var done = report
        // The run's mean loss, early epochs included, says little about the model at the end.
        done.trainLoss = lastEpoch?.trainLoss ?? report.trainLoss
        done.testLoss = report.testLoss ?? lastEpoch?.testLoss
        write(event: "done", done, extra: [("run_train_loss", .double(report.trainLoss))])
    }

    public func event(_ name: String, _ fields: [(String, JSONValue)]) { write(event: name, fields) }

    /// Writes one line; `extra` fields follow the standard ones, in order.
    public func write(event: String, _ report: TrainingReport, extra: [(String, JSONValue)] = []) {
        var fields: [(String, JSONValue)] = [
            ("epoch", .int(report.epoch)), ("step", .int(report.step)),
            ("train_loss", .double(report.trainLoss)), ("test_accuracy", .double(report.testAccuracy)),
            ("samples_per_second", .double(report.samplesPerSecond)),
            ("elapsed_seconds", .double(report.elapsedSeconds)), ("workers", .int(report.workers)),
        ]
        // A validating run scores the test set at its end only: its epochs have no test accuracy.
        if report.testAccuracy.isNaN { fields.remove(at: 3) }
        if let accuracy = report.validationAccuracy { fields.append(("validation_accuracy", .double(accuracy))) }
        if let loss = report.validationLoss { fields.append(("validation_loss", .double(loss))) }
        if let samples = report.samples { fields.append(("samples", .int(samples))) }
        if let rate = report.epochSamplesPerSecond { fields.append(("epoch_samples_per_second", .double(rate))) }
        if let loss = report.testLoss { fields.append(("test_loss", .double(loss))) }
        if let accuracy = report.trainAccuracy { fields.append(("train_accuracy", .double(accuracy))) }
        fields += (report.timings?.metricsFields ?? []) + extra
        if let confusion = report.confusion {
            fields.append(("confusion", .array(confusion.map { .array($0.map(JSONValue.int)) })))
        }
        write(event: event, fields)
    }

    /// Writes one line: the event's name, the time, then `fields` in order. A step line may wait up to
    /// a second in the buffer; any other line goes to disk at once, with what waited before it.
    public func write(event: String, _ fields: [(String, JSONValue)], now: Bool = true) {
        let milliseconds = Int((Date().timeIntervalSince1970 * 1000).rounded())
        var line = "{\"event\":\"\(event)\",\"time\":\(milliseconds / 1000)." + String(milliseconds % 1000 + 1000).dropFirst()
        line.reserveCapacity(512)
        for (key, value) in fields {
            line += ","
            line += JSONValue.quoted(key)
            line += ":"
            line += value.json
        }
        line += "}\n"
        file.append(line.utf8, now: now)
    }
}
