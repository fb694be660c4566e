import Foundation
import Logging

/// Log lines for people: "coordinator: worker 2 joined from node3 pid 4242",
/// on standard error, one write per line so that processes sharing a terminal
/// do not interleave mid-line.
struct PlainLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Set to "off" by dptrain launch, whose children's lines are labelled by launch itself.
    static let labelVariable = "DPTRAIN_LOG_LABEL"
    private static let showsLabel = ProcessInfo.processInfo.environment[labelVariable] != "off"

    func log(event: LogEvent) {
        let severity = event.level >= .warning ? "\(event.level): " : ""
        let label = Self.showsLabel ? "\(self.label): " : ""
        FileHandle.standardError.write(Data("\(label)\(severity)\(event.message)\n".utf8))
    }

    /// Sets up swift-log once for the process.
    static func bootstrap(verbose: Bool) {
        LoggingSystem.bootstrap { label in
            var handler = PlainLogHandler(label: label)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
    }
}
