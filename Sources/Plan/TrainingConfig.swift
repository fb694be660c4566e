import MLP

/// Everything that decides a training run's result: with the same config and
/// the same data, a run is reproducible to the bit.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var model: ModelSpec
    public var initialization: Initialization
    public var optimizer: OptimizerConfig
    public var epochs: Int
    /// Samples per step: the global batch, whatever the number of workers.
    public var batchSize: Int
    public var seed: UInt64
    /// Virtual shards the training set is split into (`--shards`); nil for the default rule,
    /// `ShardPlan.defaultShardCount(batchSize:)`. Never depends on the number of workers.
    public var shards: Int?
    /// The precision of the matrix products (`--compute`); nil, as every config before it, is float32.
    public var compute: ComputePrecision?
    /// A linear warmup of the learning rate from the run's start (`--warmup`); nil for none.
    public var warmup: Warmup?
    /// When the run ends before its last epoch (`--target-accuracy`, `--patience`); nil: never.
    public var stopping: StoppingRule?
    /// The longest the mean gradient of a step may be, by its global L2 norm (`--clip-norm`):
    /// a longer one is scaled down to it. Computed by the coordinator from the exact sum. Nil: none.
    public var clipNorm: Float?
    /// Distort each training image, by a draw of the seed, the epoch and the sample (`--augment`); nil: none.
    public var augment: AugmentationKind?

    public init(model: ModelSpec, initialization: Initialization, optimizer: OptimizerConfig,
                epochs: Int, batchSize: Int, seed: UInt64) {
        self.model = model
        self.initialization = initialization
        self.optimizer = optimizer
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
    }

    /// What a user would get with no flags: 784-128-10 ReLU, softmax cross-entropy,
    /// SGD with momentum 0.9 at 0.1 decaying along a cosine, batch 128, 3 epochs.
    public static func standard(inputSize: Int = 784, classCount: Int = 10) -> TrainingConfig {
        TrainingConfig(model: ModelSpec(layerSizes: [inputSize, 128, classCount]),
                       initialization: .he,
                       optimizer: OptimizerConfig(kind: .momentum, learningRate: defaultLearningRate(.momentum),
                                                  schedule: .cosine),
                       epochs: 3, batchSize: 128, seed: 1)
    }

    /// dptrain's original design exactly: 784-10-10, sigmoid on both layers, no biases,
    /// squared error, plain gradient descent at 0.5 on batches of 32, uniform(-0.5, 0.5).
    public static func seedPreset(inputSize: Int = 784, classCount: Int = 10) -> TrainingConfig {
        TrainingConfig(model: ModelSpec(layerSizes: [inputSize, 10, classCount], hiddenActivation: .sigmoid,
                                        loss: .mse, useBias: false),
                       initialization: .uniform,
                       optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.5),
                       epochs: 3, batchSize: 32, seed: 1)
    }

    /// The run's compute precision, float32 unless it names bf16.
    public var computePrecision: ComputePrecision { compute ?? .float32 }

    /// The shards the run trains over.
    public var shardCount: Int { shards ?? ShardPlan.defaultShardCount(batchSize: batchSize) }

    /// The most samples of one chunk: the rows of one gradient computation.
    public var largestChunk: Int { (batchSize + shardCount - 1) / shardCount }
    /// The fixed-point form of the run's gradient sums: on the coarse grid when its weights travel
    /// in bf16, on the fine one otherwise (the single process). Never defaulted: the coarse grid
    /// is 2^24 coarser.
    public func fixedPointFormat(coarse: Bool) -> FixedPointFormat {
        FixedPointFormat(largestChunk: largestChunk, coarse: coarse)
    }

    /// The run's shards and chunks over `sampleCount` training samples.
    public func shardPlan(sampleCount: Int) -> ShardPlan {
        ShardPlan(sampleCount: sampleCount, shardCount: shardCount, batchSize: batchSize, seed: seed)
    }

    public static func defaultLearningRate(_ kind: OptimizerConfig.Kind) -> Float {
        switch kind {
        case .sgd: return 0.1
        case .momentum: return 0.1
        case .adam: return 0.001
        }
    }

    /// Problems a user can fix, each a sentence; empty when the config is usable.
    public var problems: [String] {
        var found = model.problems
        if epochs < 1 { found.append("--epochs must be at least 1 (got \(epochs))") }
        if batchSize < 1 { found.append("--batch must be at least 1 (got \(batchSize))") }
        else if let problem = ShardPlan.problem(sampleCount: .max, shardCount: shardCount, batchSize: batchSize) { found.append(problem) }
        if !(optimizer.learningRate > 0) || !optimizer.learningRate.isFinite {
            found.append("--lr must be a positive number (got \(optimizer.learningRate))")
        }
        if !(0..<1).contains(optimizer.momentum) { found.append("--momentum must be in [0, 1) (got \(optimizer.momentum))") }
        if !(optimizer.weightDecay >= 0) || !optimizer.weightDecay.isFinite {
            found.append("--weight-decay must be zero or positive (got \(optimizer.weightDecay))")
        }
        if let problem = warmup?.problem { found.append(problem) }
        if augment != nil, model.inputSize > 0, Augmentation.side(features: model.inputSize) == nil {
            found.append("--augment needs square images (28x28 for MNIST); these have \(model.inputSize) features")
        }
        if augment != nil, computePrecision == .bf16 { found.append("--augment works with --compute float32 only") }
        if (model.dropout ?? 0) > 0, computePrecision == .bf16 { found.append("--dropout works with --compute float32 only") }
        if let clipNorm, !(clipNorm > 0 && clipNorm.isFinite) { found.append("--clip-norm must be a positive number (got \(clipNorm))") }
        found += stopping?.problems ?? []
        return found
    }
}

extension TrainingConfig {
    /// The dropout of epoch `epoch`, nil without --dropout.
    public func dropout(epoch: Int) -> DropoutDraw? {
        guard let rate = model.dropout, rate > 0 else { return nil }
        return DropoutDraw(rate: rate, seed: seed, epoch: epoch)
    }

    /// The distortion of epoch `epoch`'s training images, nil without --augment.
    public func augmentation(epoch: Int) -> Augmentation? {
        guard let augment, let side = Augmentation.side(features: model.inputSize) else { return nil }
        return Augmentation(kind: augment, seed: seed, epoch: epoch, side: side)
    }
}
