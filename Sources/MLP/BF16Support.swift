import Foundation

/// Whether this CPU multiplies bfloat16 natively. Emulated bf16 runs 5 to 15 times slower than
/// float32 (the trap in pytorch/pytorch#118499), so a run without it is refused, not slowed.
public enum BF16Support {
    /// The CPU flags (as /proc/cpuinfo names them) that give native bf16 products, any one enough.
    public static let nativeFlags = ["avx512_bf16", "amx_bf16"]

    /// Hides CPU flags from the check, comma-separated: the seam through which the tests see a
    /// CPU without bf16 on one that has it (and a worker that cannot join a bf16 run).
    public static let hideFlagsVariable = "DPTRAIN_HIDE_CPU_FLAGS"

    /// Why this CPU cannot compute in bf16, in one sentence; nil when it can.
    public static func problem(cpuFlags: Set<String>) -> String? {
        if nativeFlags.contains(where: cpuFlags.contains) { return nil }
        return "--compute bf16 needs a CPU with AVX512-BF16 (avx512_bf16) or AMX (amx_bf16), and this one has neither: "
            + "emulated bf16 would be several times slower than float32; train without --compute, in float32"
    }

    /// This process's answer, from /proc/cpuinfo less the flags `DPTRAIN_HIDE_CPU_FLAGS` hides
    /// (read at each call, rarely: a run's start and a worker's hello).
    public static var currentProblem: String? { problem(cpuFlags: currentFlags()) }

    public static var isAvailable: Bool { currentProblem == nil }

    static func currentFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        var flags = Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
        if let hidden = ProcessInfo.processInfo.environment[hideFlagsVariable] {
            flags.subtract(hidden.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        return flags
    }
}
