import ArgumentParser
import Wire

/// The coordinator's flags for how weights and gradients travel.
public struct TransportOptions: ParsableArguments {
    @Option(name: .customLong("wire-precision"), help: ArgumentHelp(
        "How weights and gradients travel: float32, or bf16 (half the bytes both ways: weights as bfloat16, the coordinator keeping float32 weights; the exact gradient sums on a grid 2^24 times coarser, 2 bytes a value where float32's take 5).",
        valueName: "format"))
    public var wirePrecision: WirePrecision = .float32

    @Option(name: .customLong("shared-memory"), help: Switch.sharedMemoryHelp)
    public var sharedMemory: Switch = .on

    @Option(name: .customLong("parameter-servers"), parsing: .unconditional, help: ArgumentHelp(
        "Parameter servers to wait for (`dptrain parameter-server`), each holding a range of the weights: workers send them their gradients' ranges and take the weights from them, so the coordinator's link carries no parameter-sized message (default 0: the coordinator holds the weights).",
        valueName: "K"))
    public var parameterServers = 0

    public init() {}

    public func validate() throws {
        guard (0...Limits.parameterServers).contains(parameterServers) else {
            throw ValidationError("--parameter-servers must be between 0 and \(Limits.parameterServers) (got \(parameterServers))")
        }
    }
}

/// A flag spelled on|off: `--shared-memory` (whether workers on the coordinator's host move
/// weights and gradients through shared memory or over the socket), `--rebalance`.
public enum Switch: String, ExpressibleByArgument, CaseIterable, Sendable {
    case on, off

    static let sharedMemoryHelp = ArgumentHelp(
        "on: a worker on the coordinator's host takes its weights and sends its gradients through shared memory, the socket carrying only control messages; off: over the socket (default on).",
        valueName: "on|off")

    public var isOn: Bool { self == .on }
}

extension WirePrecision: ExpressibleByArgument {}
