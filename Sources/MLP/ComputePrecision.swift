/// The precision of a run's matrix products (`--compute`). Weights, optimizer state, checkpoints
/// and model files are float32 either way; with bf16 the forward and backward products take their
/// inputs rounded to bfloat16 and accumulate in float32, and each chunk's gradient is still
/// rounded once into the exact fixed-point sum, so a bf16 run gives the same weights for any
/// number of workers as a float32 run does (its own weights, not the float32 run's).
public enum ComputePrecision: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case float32
    case bf16

    public var description: String { rawValue }
}
