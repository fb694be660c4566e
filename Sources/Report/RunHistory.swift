import Foundation

/// One metrics file read back: its lines sorted by event, for the report.
public struct RunHistory {
    /// The file's name, which labels the run's curves.
    public let name: String
    /// Every `run` line: more than one when the run was resumed.
    public var runs: [[String: Any]] = []
    public var steps: [[String: Any]] = []
    public var epochs: [[String: Any]] = []
    public var done: [String: Any]?
    /// Membership, checkpoint, resume and straggler events, in the file's order.
    public var events: [[String: Any]] = []
    /// Each epoch's `worker_figures` line.
    public var workerFigures: [[String: Any]] = []

    /// Reads `path`. A line that is not a JSON object is an error naming the file and the line.
    public init(path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ReportError.unreadable(path: path)
        }
        name = (path as NSString).lastPathComponent
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let event = object["event"] as? String else {
                throw ReportError.notAMetricsLine(path: path, line: index + 1)
            }
            switch event {
            case "run": runs.append(object)
            case "step": steps.append(object)
            case "epoch": epochs.append(object)
            case "done": done = object
            case "worker_figures": workerFigures.append(object)
            default: events.append(object)
            }
        }
        guard !steps.isEmpty || !epochs.isEmpty else {
            throw ReportError.nothingToDraw(path: path)
        }
    }

    /// Each worker over the whole run: its steps, samples and mean compute time, and the epochs in
    /// which it was named the straggler; by worker id.
    public var workers: [(id: Int, host: String, steps: Int, samples: Int, meanComputeMilliseconds: Double, stragglerEpochs: [Int])] {
        var totals: [Int: (host: String, steps: Int, samples: Int, computeMilliseconds: Double)] = [:]
        for line in workerFigures {
            for worker in line["workers"] as? [[String: Any]] ?? [] {
                guard let id = worker.number("worker").map(Int.init) else { continue }
                let steps = Int(worker.number("steps") ?? 0)
                var total = totals[id] ?? (worker["host"] as? String ?? "", 0, 0, 0)
                total.steps += steps
                total.samples += Int(worker.number("samples") ?? 0)
                total.computeMilliseconds += (worker.number("mean_compute_ms") ?? 0) * Double(steps)
                totals[id] = total
            }
        }
        let stragglers = events.filter { $0["event"] as? String == "straggler" }
        return totals.keys.sorted().map { id in
            let total = totals[id]!
            let epochs = stragglers.filter { $0.number("slowest_worker").map(Int.init) == id }.compactMap { $0.number("epoch").map(Int.init) }
            return (id, total.host, total.steps, total.samples, total.steps > 0 ? total.computeMilliseconds / Double(total.steps) : 0, epochs)
        }
    }

    /// Unix time the run began: its first run line, or its first line of any kind.
    public var startTime: Double {
        (runs.first?["time"] as? Double) ?? (steps.first?["time"] as? Double) ?? (epochs.first?["time"] as? Double) ?? 0
    }

    /// Seconds since the run began, from a line's `time`.
    public func seconds(_ line: [String: Any]) -> Double? {
        (line["time"] as? Double).map { $0 - startTime }
    }
}

/// Why a report could not be made, in a sentence that says what to do.
public enum ReportError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case notAMetricsLine(path: String, line: Int)
    case nothingToDraw(path: String)

    public var description: String {
        switch self {
        case .unreadable(let path): return "\(path): cannot read the metrics file; give the path of a file that --metrics wrote"
        case let .notAMetricsLine(path, line):
            return "\(path):\(line): not a metrics line (a JSON object with an \"event\"); is this a file that --metrics wrote?"
        case .nothingToDraw(let path): return "\(path): holds no step or epoch lines yet; a run writes them as it trains"
        }
    }
}

extension Dictionary where Key == String, Value == Any {
    func number(_ key: String) -> Double? {
        (self[key] as? NSNumber)?.doubleValue
    }
}
