import Foundation
import Prometheus

/// The process's own figures under the names every Prometheus client library uses
/// (process_resident_memory_bytes, process_start_time_seconds), so that the usual alerts
/// and dashboards find them. Read when a scrape asks, on the HTTP thread.
final class ProcessSeries {
    private let residentMemory: Gauge
    private let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))

    init(_ series: Series) {
        residentMemory = series.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        series.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
            .set(to: Date().timeIntervalSince1970 - ProcessInfo.processInfo.systemUptime + Self.startSecondsAfterBoot())
    }

    /// Reads /proc/self/statm's resident pages.
    func refresh() {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return }
        residentMemory.set(to: pages * pageSize)
    }

    /// Seconds from boot to this process's start: /proc/self/stat's 22nd field, in clock ticks.
    private static func startSecondsAfterBoot() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let afterName = stat.lastIndex(of: ")") else { return ProcessInfo.processInfo.systemUptime }
        let fields = stat[stat.index(after: afterName)...].split(separator: " ")
        // fields[0] is the state, the 3rd field of the line: the start time is the 22nd.
        guard fields.count > 19, let ticks = Double(fields[19]) else { return ProcessInfo.processInfo.systemUptime }
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
