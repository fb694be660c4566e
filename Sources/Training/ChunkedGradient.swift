import Dataset
import MLP

/// A step's gradient as the exact sum of its chunks' gradients: each chunk's forward and
/// backward pass runs alone (the same sgemm shapes on the same inputs, whatever else the
/// process computes), and its float gradient is rounded once into the fixed-point sum.
/// Every trainer (the single process, each worker, the coordinator's own check) computes
/// chunks here, so a chunk's bits do not depend on who computes it.
public final class ChunkedGradient {
    /// The passes of one chunk, in the run's compute precision.
    private enum Passes {
        case float32(Workspace)
        case bf16(BF16Workspace)
    }
    private let passes: Passes
    /// The largest chunk this computes.
    public let capacity: Int
    /// The exact sum of the chunks added since the last `reset()`; zeros when none was.
    public var sum: FixedPointSum { added ? storage : zeros }
    private var storage: FixedPointSum
    private let zeros: FixedPointSum
    /// Whether a chunk was added since the reset. The first one writes `storage` rather than
    /// adding to it, so a reset costs no pass over the sums: until then `storage` holds the
    /// last step's, and `sum` is `zeros`.
    private var added = false
    /// One chunk's float gradient (P) and labels (largest chunk).
    private var chunkGradient: [Float]
    private var labels: [UInt8]

    /// With `compute` bf16 the caller has checked `BF16Support`: oneDNN then makes its products.
    public init(spec: ModelSpec, largestChunk: Int, format: FixedPointFormat, compute: ComputePrecision = .float32) {
        switch compute {
        case .float32:
            passes = .float32(Workspace(spec: spec, capacity: largestChunk))
        case .bf16:
            do {
                passes = .bf16(try BF16Workspace(spec: spec, capacity: largestChunk))
            } catch {
                preconditionFailure("bf16 products for \(spec.summary), chunks of \(largestChunk): \(error)")
            }
        }
        capacity = largestChunk
        storage = FixedPointSum(format: format, count: spec.parameterCount)
        zeros = storage
        chunkGradient = [Float](repeating: 0, count: spec.parameterCount)
        labels = [UInt8](repeating: 0, count: largestChunk)
    }

    /// Whether the last chunk that failed had a gradient beyond the fixed-point range (rather
    /// than a loss that is not finite).
    public private(set) var lastFailureWasRange = false

    public func reset() { added = false }

    /// The error for a chunk that failed at `step` of `epoch`, at base rate `learningRate`.
    public func divergence(epoch: Int, step: Int, learningRate: Float) -> TrainingError {
        lastFailureWasRange
            ? .gradientOutOfRange(epoch: epoch, step: step, bound: storage.format.chunkLimitValue, learningRate: learningRate)
            : .lossNotFinite(epoch: epoch, step: step, learningRate: learningRate)
    }

    /// Adds the gradient of `data`'s samples at `indices`, computed alone. Returns the chunk's
    /// score, or nil when its gradient is beyond the fixed-point range or not finite (diverged).
    /// Every chunk of a step takes the same `parameters`: in bf16, the first after `reset()`
    /// rounds them for all.
    public func add(_ indices: UnsafeBufferPointer<Int32>, of data: LabeledImages, parameters: UnsafePointer<Float>) -> BatchScore? {
        let rows = indices.count
        precondition(rows > 0 && rows <= capacity)
        let score = labels.withUnsafeMutableBufferPointer { labels in
            chunkGradient.withUnsafeMutableBufferPointer { gradient in
                switch passes {
                case .float32(let workspace):
                    data.gather(indices, inputs: workspace.input, labels: labels.baseAddress!)
                    return workspace.gradient(parameters: parameters, labels: labels.baseAddress!, rows: rows, into: gradient.baseAddress!)
                case .bf16(let workspace):
                    if !added { workspace.loadWeights(parameters) }
                    data.gatherPixels(indices, into: workspace.input, labels: labels.baseAddress!)
                    return workspace.gradient(parameters: parameters, labels: labels.baseAddress!, rows: rows, into: gradient.baseAddress!)
                }
            }
        }
        let inRange = chunkGradient.withUnsafeBufferPointer { storage.add(chunk: $0, replacing: !added) }
        added = true
        guard inRange && score.lossSum.isFinite else {
            lastFailureWasRange = score.lossSum.isFinite
            return nil
        }
        return score
    }
}
