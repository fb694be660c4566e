import Foundation
import MLP

/// Makes sure this process multiplies matrices on the right BLAS kernels, and says
/// what it did about them.
///
/// Debian's OpenBLAS 0.3.21 picks its kernels when it loads, from the CPU it
/// recognises; on CPUs newer than it knows it can fall back to SSE3 kernels
/// ("Prescott"), four times slower. It reads OPENBLAS_CORETYPE only at load
/// time, so the fix is to set it and execute this program again. That is process
/// setup, done by the executables before any command runs, never by a library.
public enum BLASKernels {
    /// Kernel families fast enough for each instruction set, best first.
    static let avx512Cores = ["SkylakeX", "Cooperlake", "SapphireRapids"]
    static let avx2Cores = ["Haswell", "Zen"] + avx512Cores
    /// The x86-64 core names OpenBLAS 0.3.21 takes in OPENBLAS_CORETYPE (its corename table).
    static let x86CoreNames = ["Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn",
                               "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Nano",
                               "Sandybridge", "Bobcat", "Bulldozer", "Piledriver", "Haswell", "Steamroller", "Excavator",
                               "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"]
    /// Carries the decision across the re-execution, and to child processes.
    static let decisionVariable = "DPTRAIN_BLAS_CHECKED"

    /// What dptrain did about the kernels OpenBLAS picked.
    public enum Decision: Equatable {
        /// Kept them: they are the best this CPU has. `source` is "auto-detected" or "OPENBLAS_CORETYPE=NAME".
        case kept(source: String)
        /// Replaced `core`, which is slower on this CPU, chosen by `source`.
        case replaced(core: String, source: String)
        /// DPTRAIN_BLAS_CORE asked for `core`.
        case forced(core: String)

        var environmentValue: String {
            switch self {
            case .kept(let source): return "kept|\(source)"
            case let .replaced(core, source): return "replaced|\(core)|\(source)"
            case .forced(let core): return "forced|\(core)"
            }
        }

        init?(environmentValue: String) {
            let parts = environmentValue.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            switch (parts.first, parts.count) {
            case ("kept", 2): self = .kept(source: parts[1])
            case ("replaced", 3): self = .replaced(core: parts[1], source: parts[2])
            case ("forced", 2): self = .forced(core: parts[1])
            default: return nil
            }
        }
    }

    /// DPTRAIN_BLAS_CORE names no core OpenBLAS knows.
    public struct UnknownCore: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "DPTRAIN_BLAS_CORE=\(name) is not an OpenBLAS core name; use one of \(x86CoreNames.joined(separator: ", ")), or unset it"
        }
    }

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

    /// What to do, given the core OpenBLAS runs now, the CPU and the environment: the
    /// decision, and the core to load instead (nil to keep the current one).
    public static func decide(current: String, cpuFlags: Set<String>,
                              environment: [String: String]) throws -> (decision: Decision, load: String?) {
        if let forced = environment["DPTRAIN_BLAS_CORE"] {
            #if arch(x86_64)
            guard let known = x86CoreNames.first(where: { $0.lowercased() == forced.lowercased() }) else {
                throw UnknownCore(name: forced)
            }
            #else
            let known = forced
            #endif
            return (.forced(core: known), known.lowercased() == current.lowercased() ? nil : known)
        }
        let source = environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "auto-detected"
        if let better = betterCore(current: current, cpuFlags: cpuFlags) {
            return (.replaced(core: current, source: source), better)
        }
        return (.kept(source: source), nil)
    }

    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
    }

    /// This process's decision: made here, or by the process that executed this one.
    nonisolated(unsafe) static var decision: Decision?

    /// Call first thing in main. Re-executes this program with OPENBLAS_CORETYPE set
    /// when OpenBLAS runs slower kernels than this CPU can, whether it chose them itself
    /// or an inherited OPENBLAS_CORETYPE asked for them; DPTRAIN_BLAS_CORE forces a core
    /// type for those who know better, and an unknown name stops the program.
    public static func ensureFastKernels() {
        let environment = ProcessInfo.processInfo.environment
        if let inherited = environment[decisionVariable] {
            decision = Decision(environmentValue: inherited)
            return
        }
        let choice: (decision: Decision, load: String?)
        do {
            choice = try decide(current: BLAS.coreName, cpuFlags: cpuFlags(), environment: environment)
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            exit(64)
        }
        decision = choice.decision
        setenv(decisionVariable, choice.decision.environmentValue, 1)
        // One process per core: a BLAS thread pool, started when the library loads,
        // would only compete with the other processes for the cores.
        guard choice.load != nil || environment["OPENBLAS_NUM_THREADS"] != "1" else { return }
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        if let load = choice.load { setenv("OPENBLAS_CORETYPE", load, 1) }
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", arguments)
        // execv returned: carry on with the kernels we have rather than fail.
    }

    /// One line for the start of a run: which kernels, and why.
    public static var summary: String {
        summary(decision: decision, running: BLAS.coreName,
                library: BLAS.configuration.split(separator: " ").prefix(2).joined(separator: " "))
    }

    static func summary(decision: Decision?, running: String, library: String) -> String {
        let why: String
        switch decision {
        case .kept(let source)?:
            why = source == "auto-detected" ? "OpenBLAS's own choice, kept: none is faster on this CPU"
                                            : "from \(source), kept: none is faster on this CPU"
        case let .replaced(core, source)?:
            let chosenBy = source == "auto-detected" ? "OpenBLAS's own choice" : "from \(source)"
            why = running.lowercased() == core.lowercased()
                ? "dptrain tried to replace \(core) (\(chosenBy)), slower on this CPU, but OpenBLAS kept it"
                : "dptrain replaced \(core) (\(chosenBy)), slower on this CPU; set DPTRAIN_BLAS_CORE to force one"
        case .forced(let core)?:
            why = running.lowercased() == core.lowercased()
                ? "forced by DPTRAIN_BLAS_CORE=\(core)"
                : "DPTRAIN_BLAS_CORE=\(core) asked for \(core), which OpenBLAS does not run on this CPU"
        case nil:
            why = "as OpenBLAS chose them"
        }
        return "BLAS: \(library), \(running) kernels (\(why))"
    }
}

/// Where the MNIST files that ship with dptrain are.
public enum BundledData {
    /// $DPTRAIN_DATA when it is set, whatever it holds: the user asked for it, and a
    /// mistake in it must be reported, not passed over. Otherwise the first folder
    /// holding MNIST among data/mnist above the executable (a build in the repository),
    /// share/dptrain/mnist beside it (an installed copy), and data/mnist in the current
    /// directory.
    public static func mnistDirectory() -> String? {
        if let fromEnvironment = ProcessInfo.processInfo.environment["DPTRAIN_DATA"] { return fromEnvironment }
        var candidates: [String] = []
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
