import CAffinity
import Foundation

/// The cores this process may run on: its CPU affinity (`taskset`, Slurm's and Kubernetes'
/// cpusets), and fewer when its cgroup's CPU quota allows less (a Kubernetes CPU limit, a
/// systemd CPUQuota): what `--threads` defaults to.
enum AllowedCores {
    /// The count, at least 1, and what set it.
    static var count: (cores: Int, source: String) {
        let affinity = affinityCount ?? ProcessInfo.processInfo.activeProcessorCount
        if let quota = quotaCores, quota < affinity { return (max(1, quota), "the cgroup's CPU quota") }
        return (max(1, affinity), "sched_getaffinity")
    }

    /// The CPUs in this process's affinity mask; nil when the call fails.
    static var affinityCount: Int? {
        let count = dptrain_affinity_cpu_count()
        return count > 0 ? Int(count) : nil
    }

    /// The cgroup's CPU quota in whole cores, rounded up; nil when there is none.
    static var quotaCores: Int? {
        guard let lines = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        for line in lines.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[1].isEmpty {
                // cgroup v2: "max 100000" or "QUOTA PERIOD".
                if let text = read("/sys/fs/cgroup\(path)/cpu.max") ?? read("/sys/fs/cgroup/cpu.max") {
                    let parts = text.split(separator: " ")
                    if parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]) { return cores(quota, period) }
                }
            } else if fields[1].split(separator: ",").contains("cpu") {
                // cgroup v1: cpu.cfs_quota_us (-1 for none) over cpu.cfs_period_us.
                for folder in ["/sys/fs/cgroup/\(fields[1])\(path)", "/sys/fs/cgroup/cpu\(path)", "/sys/fs/cgroup/cpu"] {
                    if let quota = read("\(folder)/cpu.cfs_quota_us").flatMap(Double.init),
                       let period = read("\(folder)/cpu.cfs_period_us").flatMap(Double.init) {
                        return quota > 0 ? cores(quota, period) : nil
                    }
                }
            }
        }
        return nil
    }

    private static func cores(_ quota: Double, _ period: Double) -> Int? {
        period > 0 && quota > 0 ? Int((quota / period).rounded(.up)) : nil
    }

    private static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
