import Foundation

/// Writes the run's events as JSON lines, one object per line, flushed as
/// they happen so that a crash loses nothing already written:
///   {"event":"epoch","epoch":E,"step":S,"train_loss":L,"test_accuracy":A,
///    "samples_per_second":R,"elapsed_seconds":T,"workers":N}
/// and one {"event":"done",...} line with the same keys for the whole run.
public final class MetricsLog: TrainingObserver {
    private let handle: FileHandle
    public let path: String

    /// Creates or truncates `path`, or with `append` (a resumed run) adds to what it holds.
    /// Throws a one-line error if it cannot.
    public init(path: String, append: Bool = false) throws {
        self.path = path
        let exists = append && FileManager.default.fileExists(atPath: path)
        guard exists || FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw MetricsLogError(path: path)
        }
        if exists { handle.seekToEndOfFile() }
        self.handle = handle
    }

    deinit { try? handle.close() }

    public func epochFinished(_ report: TrainingReport) { write(event: "epoch", report) }
    public func trainingFinished(_ report: TrainingReport) { write(event: "done", report) }
    public func event(_ name: String, _ fields: [(String, JSONValue)]) { write(event: name, fields) }

    /// Writes one line; `extra` fields follow the standard ones, in order.
    public func write(event: String, _ report: TrainingReport, extra: [(String, JSONValue)] = []) {
        var fields: [(String, JSONValue)] = [
            ("epoch", .int(report.epoch)), ("step", .int(report.step)),
            ("train_loss", .double(report.trainLoss)), ("test_accuracy", .double(report.testAccuracy)),
            ("samples_per_second", .double(report.samplesPerSecond)),
            ("elapsed_seconds", .double(report.elapsedSeconds)), ("workers", .int(report.workers)),
        ]
        if let samples = report.samples { fields.append(("samples", .int(samples))) }
        if let rate = report.epochSamplesPerSecond { fields.append(("epoch_samples_per_second", .double(rate))) }
        fields += (report.timings?.metricsFields ?? []) + extra
        write(event: event, fields)
    }

    /// Writes one line: the event's name, then `fields` in order.
    public func write(event: String, _ fields: [(String, JSONValue)]) {
        let body = fields.map { ",\"\($0.0)\":\($0.1.json)" }.joined()
        handle.write(Data("{\"event\":\"\(event)\"\(body)}\n".utf8))
    }
}

public struct MetricsLogError: Error, CustomStringConvertible {
    public let path: String
    public var description: String { "\(path): cannot write the metrics file; check that its folder exists and is writable" }
}

/// A value as JSON writes it; non-finite numbers become null, which JSON can hold.
public enum JSONValue {
    case int(Int)
    case double(Double)
    case string(String)

    var json: String {
        switch self {
        case .int(let value): return String(value)
        case .double(let value): return value.isFinite ? String(format: "%.6g", value) : "null"
        case .string(let value):
            let escaped = value.unicodeScalars.map { scalar -> String in
                switch scalar {
                case "\"": return "\\\""
                case "\\": return "\\\\"
                case _ where scalar.value < 0x20: return String(format: "\\u%04x", scalar.value)
                default: return String(scalar)
                }
            }.joined()
            return "\"\(escaped)\""
        }
    }
}
