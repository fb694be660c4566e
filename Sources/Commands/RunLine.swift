import Foundation
import Plan
import Roles
import Training

/// dptrain's version, in the metrics file's run line and `dptrain --version`.
public let dptrainVersion = BuildInfo.version

/// The metrics file's first line: which run this is, what it trains and how, where and when.
/// A resumed run writes it again with `resumed: true`, so the file reads as one history.
struct RunLine {
    var runID: UInt64
    var trainer: String
    var resumed: Bool
    var config: TrainingConfig
    var trainSamples: Int
    var testSamples: Int
    var logEvery: Int
    /// Fields only a distributed run has: workers to start with, the most, the deadline, checkpoints.
    var coordinator: [(String, JSONValue)] = []

    var fields: [(String, JSONValue)] {
        let start = ISO8601DateFormatter().string(from: Date())
        return [
            ("run_id", .string(String(format: "%016llx", runID))), ("version", .string(dptrainVersion)),
            ("resumed", .bool(resumed)), ("trainer", .string(trainer)), ("start_time", .string(start)),
            ("host", .string(ProcessInfo.processInfo.hostName)), ("pid", .int(Int(getpid()))),
            ("command", .array(CommandLine.arguments.map(JSONValue.string))),
            ("model", .string(config.model.summary)), ("config", .encoding(config)),
            ("train_samples", .int(trainSamples)), ("test_samples", .int(testSamples)), ("log_every", .int(logEvery)),
        ] + coordinator
    }

    func write(to logs: RunLogs) {
        for case let log as MetricsLog in logs.logs { log.write(event: "run", fields) }
    }
}
