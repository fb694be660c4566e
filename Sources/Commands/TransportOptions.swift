import ArgumentParser
import Wire

/// The coordinator's flags for how weights and gradients travel.
public struct TransportOptions: ParsableArguments {
    @Option(name: .customLong("wire-precision"), help: ArgumentHelp(
        "How weights and gradients travel: float32, or bf16 (half the bytes; the coordinator keeps float32 weights and adds in float32).",
        valueName: "format"))
    public var wirePrecision: WirePrecision = .float32

    public init() {}
}

extension WirePrecision: ExpressibleByArgument {}
