import MLP
import Plan
import Wire

extension FixedPointFormat {
    /// The grid of a run whose weights travel in `precision`: a bf16 run, which halves its
    /// messages, sums its gradients on the coarse grid so that they travel in 2 bytes a value
    /// too; float32 runs and the single process on the fine one.
    public init(largestChunk: Int, precision: WirePrecision) {
        self.init(largestChunk: largestChunk, coarse: precision == .bf16)
    }
}

extension TrainingConfig {
    /// The fixed-point form of the run's gradient sums when its weights travel in `precision`.
    public func fixedPointFormat(for precision: WirePrecision) -> FixedPointFormat {
        fixedPointFormat(coarse: precision == .bf16)
    }
}

extension ShardPlan {
    /// The fixed-point form of the gradient sums of a run whose weights travel in `precision`.
    public func fixedPointFormat(for precision: WirePrecision) -> FixedPointFormat {
        fixedPointFormat(coarse: precision == .bf16)
    }
}
