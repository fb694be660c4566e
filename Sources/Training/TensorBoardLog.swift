import Foundation
import TensorBoard

/// Writes the run's scalars as TensorBoard event files in a folder
/// (`tensorboard --logdir DIR`), under the tags below, at the same steps as
/// the metrics file's `step` and `epoch` lines:
///
///     train/loss, train/learning_rate, train/gradient_norm, train/samples_per_second, workers
///     step_time_ms/broadcast, step_time_ms/wait, step_time_ms/reduce, step_time_ms/update,
///     step_time_ms/worker_compute_max                     (distributed runs)
///     epoch/train_loss, epoch/train_accuracy, epoch/test_loss, epoch/test_accuracy,
///     epoch/samples_per_second, worker_compute_ms/worker_N   (each worker's mean compute per step)
public final class TensorBoardLog: StepLog {
    public let writer: EventFileWriter

    public init(directory: String) throws {
        writer = try EventFileWriter(directory: directory)
    }

    public func write(_ record: StepRecord) {
        writer.write(Self.scalars(record), step: record.step)
    }

    public func epochFinished(_ report: TrainingReport) {
        var values: [(tag: String, value: Double)] = [("epoch/train_loss", report.trainLoss)]
        if !report.testAccuracy.isNaN { values.append(("epoch/test_accuracy", report.testAccuracy)) }
        if let accuracy = report.validationAccuracy { values.append(("epoch/validation_accuracy", accuracy)) }
        if let loss = report.validationLoss { values.append(("epoch/validation_loss", loss)) }
        if let accuracy = report.trainAccuracy { values.append(("epoch/train_accuracy", accuracy)) }
        if let loss = report.testLoss { values.append(("epoch/test_loss", loss)) }
        if let rate = report.epochSamplesPerSecond { values.append(("epoch/samples_per_second", rate)) }
        for worker in report.workerFigures?.sorted ?? [] {
            values.append(("worker_compute_ms/worker_\(worker.id)", worker.meanComputeMilliseconds))
        }
        writer.write(values, step: report.step, now: true)
    }

    public func event(_ name: String, _ fields: [(String, JSONValue)]) {
        // Joins and losses change the worker count between logged steps: record it where it changed.
        guard case .int(let step)? = fields.first(where: { $0.0 == "step" })?.1,
              case .int(let workers)? = fields.first(where: { $0.0 == "workers" })?.1 else { return }
        writer.write([("workers", Double(workers))], step: step, now: true)
    }

    public func trainingFinished(_ report: TrainingReport) {
        // A validating run's test accuracy, scored once at the end.
        if report.validationAccuracy != nil && !report.testAccuracy.isNaN {
            writer.write([("epoch/test_accuracy", report.testAccuracy)], step: report.step, now: true)
        }
        writer.flush()
    }

    static func scalars(_ record: StepRecord) -> [(tag: String, value: Double)] {
        var values: [(tag: String, value: Double)] = [
            ("train/loss", record.loss), ("train/learning_rate", record.learningRate),
            ("train/samples_per_second", record.samplesPerSecond), ("workers", Double(record.workers)),
        ]
        if let norm = record.gradientNorm { values.append(("train/gradient_norm", norm)) }
        if let timings = record.timings, timings.steps > 0 {
            let steps = Double(timings.steps)
            func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 / steps }
            values += [("step_time_ms/broadcast", ms(timings.broadcastNanoseconds)), ("step_time_ms/wait", ms(timings.waitNanoseconds)),
                       ("step_time_ms/reduce", ms(timings.reduceNanoseconds)), ("step_time_ms/update", ms(timings.updateNanoseconds)),
                       ("step_time_ms/worker_compute_max", ms(timings.slowestComputeNanoseconds))]
        }
        return values
    }
}
