import Foundation
import MLP

/// Makes sure this process multiplies matrices on the right BLAS kernels.
///
/// Debian's OpenBLAS 0.3.21 picks its kernels when it loads, from the CPU it
/// recognises; on CPUs newer than it knows it can fall back to SSE3 kernels
/// ("Prescott"), four times slower. It reads OPENBLAS_CORETYPE only at load
/// time, so the fix is to set it and execute this program again.
public enum BLASKernels {
    /// Kernel families fast enough for each instruction set, best first.
    static let avx512Cores = ["SkylakeX", "Cooperlake", "SapphireRapids"]
    static let avx2Cores = ["Haswell", "Zen"] + avx512Cores
    static let reexecMarker = "DPTRAIN_BLAS_CHECKED"

    /// The kernel family this CPU should run, or nil when OpenBLAS's choice
    /// already fits (or the CPU has neither AVX2 nor AVX-512).
    public static func betterCore(current: String, cpuFlags: Set<String>) -> String? {
        let current = current.lowercased()
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(cpuFlags.contains) {
            return avx512Cores.contains { $0.lowercased() == current } ? nil : avx512Cores[0]
        }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") {
            return avx2Cores.contains { $0.lowercased() == current } ? nil : avx2Cores[0]
        }
        return nil
    }

    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
    }

    /// Call first thing in main. Re-executes this program with OPENBLAS_CORETYPE set
    /// when OpenBLAS runs slower kernels than this CPU can: whether it chose them
    /// itself or an inherited OPENBLAS_CORETYPE asked for them. DPTRAIN_BLAS_CORE
    /// forces a core type for those who know better.
    public static func ensureFastKernels() {
        let environment = ProcessInfo.processInfo.environment
        guard environment[reexecMarker] == nil else { return }
        let current = BLAS.coreName
        var wanted: String?
        if let forced = environment["DPTRAIN_BLAS_CORE"] {
            wanted = forced.lowercased() == current.lowercased() ? nil : forced
        } else {
            wanted = betterCore(current: current, cpuFlags: cpuFlags())
        }
        // One process per core: a BLAS thread pool, started when the library loads,
        // would only compete with the other processes for the cores.
        let threadsNeeded = environment["OPENBLAS_NUM_THREADS"] != "1"
        guard wanted != nil || threadsNeeded else { return }
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        if let wanted {
            let source = environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "auto-detected"
            setenv("OPENBLAS_CORETYPE", wanted, 1)
            setenv(reexecMarker, "\(current) (\(source))", 1)
        } else {
            setenv(reexecMarker, "", 1)
        }
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", arguments)
        // execv returned: carry on with the kernels we have rather than fail.
    }

    /// One line for the start of a run: which kernels, and why.
    public static var summary: String {
        let environment = ProcessInfo.processInfo.environment
        var text = "BLAS: \(BLAS.configuration.split(separator: " ").prefix(2).joined(separator: " ")), \(BLAS.coreName) kernels"
        if let replaced = environment[reexecMarker], !replaced.isEmpty {
            text += " (dptrain replaced \(replaced), slower on this CPU; set DPTRAIN_BLAS_CORE to force one)"
        } else if let forced = environment["DPTRAIN_BLAS_CORE"] {
            text += " (from DPTRAIN_BLAS_CORE=\(forced))"
        } else {
            text += " (the fastest family for this CPU)"
        }
        return text
    }
}

/// Where the MNIST files that ship with dptrain are.
public enum BundledData {
    /// The first folder holding MNIST among: $DPTRAIN_DATA, data/mnist above the
    /// executable (a build in the repository), share/dptrain/mnist beside it (an
    /// installed copy), and data/mnist in the current directory.
    public static func mnistDirectory() -> String? {
        var candidates: [String] = []
        if let fromEnvironment = ProcessInfo.processInfo.environment["DPTRAIN_DATA"] { candidates.append(fromEnvironment) }
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(folder.appendingPathComponent("data/mnist").path)
            candidates.append(folder.appendingPathComponent("share/dptrain/mnist").path)
            folder.deleteLastPathComponent()
        }
        candidates.append(FileManager.default.currentDirectoryPath + "/data/mnist")
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/train-images-idx3-ubyte.gz") }
    }
}
