import ArgumentParser
import Foundation
import MLP
import Distributed
import Plan
import Roles
import Training

/// The flags that shape a training run, shared by every command that trains.
/// Each is optional so that a preset supplies what the user leaves out.
public struct TrainingOptions: ParsableArguments {
    @Option(help: "Start from a preset: 'seed' is dptrain's original 784-10-10 sigmoid design. Other flags override it.")
    public var preset: Preset?

    @Option(parsing: .unconditional, help: "Passes over the training set (default 3).")
    public var epochs: Int?

    @Option(parsing: .unconditional, help: "Samples per step, over all workers: the global batch (default 128; 32 with --preset seed).")
    public var batch: Int?

    @Option(parsing: .unconditional, help: "Virtual shards of the training set; a step trains a chunk of each, and workers hold whole shards. The same shards give the same weights for any number of workers (default: --batch / 128, between 2 and 16).")
    public var shards: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Hidden layer widths, comma-separated: 128 or 512,256 (default 128).", valueName: "list"))
    public var hidden: String?

    @Option(help: "Hidden activation: relu, sigmoid or tanh (default relu).")
    public var activation: Activation?

    @Option(help: "cross-entropy (softmax output) or mse (sigmoid output, E = Y - O) (default cross-entropy).")
    public var loss: Loss?

    @Option(help: "sgd, momentum or adam (default momentum).")
    public var optimizer: OptimizerConfig.Kind?

    @Option(parsing: .unconditional, help: "Base learning rate (default 0.1 for momentum and sgd, 0.001 for adam; 0.5 with --preset seed).")
    public var lr: Float?

    @Option(help: "Learning-rate schedule: constant; cosine or linear decay to zero over the run; or one-cycle (up from lr/25 over the first 30% of the run, then down along a cosine, as PyTorch's OneCycleLR) (default cosine; constant with --preset seed).")
    public var schedule: LearningRateSchedule?

    @Option(parsing: .unconditional, help: ArgumentHelp("Raise the learning rate linearly from near zero to the schedule's over the run's first steps: a number of steps (500) or of epochs (1epoch, 0.5epochs) (default none).", valueName: "steps|Nepochs"))
    public var warmup: String?

    @Option(name: .customLong("lr-scaling"), help: ArgumentHelp("Scale --lr with the global --batch over a batch of \(LearningRateScaling.referenceBatch): linear (lr x batch/\(LearningRateScaling.referenceBatch)) or sqrt (lr x sqrt(batch/\(LearningRateScaling.referenceBatch))) (default none).", valueName: "rule"))
    public var lrScaling: LearningRateScaling?

    @Option(name: .customLong("clip-norm"), parsing: .unconditional, help: ArgumentHelp("Scale a step's mean gradient down to this global L2 norm when it is longer, as torch.nn.utils.clip_grad_norm_ (default: no clipping).", valueName: "norm"))
    public var clipNorm: Float?

    @Option(name: .customLong("label-smoothing"), parsing: .unconditional, help: ArgumentHelp("Put this share of each training sample's cross-entropy target evenly on every class, the rest on its label, such as 0.1 (default 0).", valueName: "share"))
    public var labelSmoothing: Float?

    @Option(parsing: .unconditional, help: ArgumentHelp("Drop each hidden unit of each training sample with this probability, scaling the rest up to match, such as 0.2 (ReLU only) (default 0).", valueName: "p"))
    public var dropout: Float?

    @Option(help: ArgumentHelp("Distort each training image afresh each epoch: shift (up to 2 pixels), affine (rotation, scaling, shift) or elastic (Simard 2003), drawn from the seed, the epoch and the sample, so the weights stay the same for any workers (default none).", valueName: "kind"))
    public var augment: AugmentationKind?

    @Option(name: .customLong("target-accuracy"), parsing: .unconditional, help: ArgumentHelp("Stop once an epoch's accuracy (on the validation split, or the test set without one) reaches this fraction, such as 0.98 (default: train every epoch).", valueName: "fraction"))
    public var targetAccuracy: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Stop once this many epochs in a row bring no better accuracy (on the validation split, or the test set without one) (default: train every epoch).", valueName: "epochs"))
    public var patience: Int?

    @Option(parsing: .unconditional, help: "Momentum for --optimizer momentum, beta1 for adam (default 0.9).")
    public var momentum: Float?

    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "Decoupled weight decay per step (default 0).")
    public var weightDecay: Float?

    @Option(name: .customLong("init"), help: "Weight initialisation: uniform, he or xavier (default he for relu, xavier otherwise).")
    public var initialization: Initialization?

    @Flag(name: .customLong("no-bias"), help: "Leave out the biases.")
    public var noBias = false

    @Option(help: ArgumentHelp("Precision of the matrix products: float32, or bf16 (bfloat16 inputs, float32 sums, weights and optimizer state; needs a CPU with AVX512-BF16 or AMX) (default float32).", valueName: "precision"))
    public var compute: ComputePrecision?

    @Option(parsing: .unconditional, help: "Seed for initialisation and shuffling: the same seed gives the same weights, to the bit (default 1).")
    public var seed: UInt64?

    @Option(name: .customLong("init-from"), help: ArgumentHelp("Start from this model's weights (a warm start): a dptrain model, or a PyTorch nn.Sequential's safetensors (its hidden activation from --activation, default relu). Its hidden widths are the run's unless --hidden says otherwise.", valueName: "file"))
    public var initFrom: String?

    public init() {}

    public enum Preset: String, ExpressibleByArgument, CaseIterable {
        case seed
    }

    /// The run these flags describe, for data with `inputSize` features and `classCount` classes.
    public func config(inputSize: Int, classCount: Int) -> TrainingConfig {
        var config = preset == .seed
            ? TrainingConfig.seedPreset(inputSize: inputSize, classCount: classCount)
            : TrainingConfig.standard(inputSize: inputSize, classCount: classCount)
        if let epochs { config.epochs = epochs }
        if let batch { config.batchSize = batch }
        // Always explicit, so that a resume with `--shards` spelling out the default is the same run.
        config.shards = shards ?? ShardPlan.defaultShardCount(batchSize: config.batchSize)
        if let widths = hiddenWidths { config.model.layerSizes = [inputSize] + widths + [classCount] }
        if let activation {
            config.model.hiddenActivation = activation
            if initialization == nil && preset == nil { config.initialization = activation == .relu ? .he : .xavier }
        }
        if let loss { config.model.loss = loss }
        if noBias { config.model.useBias = false }
        if let initialization { config.initialization = initialization }
        if let optimizer {
            config.optimizer.kind = optimizer
            config.optimizer.learningRate = TrainingConfig.defaultLearningRate(optimizer)
        }
        if let lr { config.optimizer.learningRate = lr }
        if let lrScaling { config.optimizer.learningRate *= lrScaling.factor(batch: config.batchSize) }
        if let schedule { config.optimizer.schedule = schedule }
        if let clipNorm { config.clipNorm = clipNorm }
        if let augment { config.augment = augment }
        if let dropout { config.model.dropout = dropout == 0 ? nil : dropout }
        if let labelSmoothing { config.model.labelSmoothing = labelSmoothing == 0 ? nil : labelSmoothing }
        if let warmup { config.warmup = Warmup(argument: warmup) ?? .steps(-1) }
        if targetAccuracy != nil || patience != nil { config.stopping = StoppingRule(targetAccuracy: targetAccuracy, patience: patience) }
        if let momentum { config.optimizer.momentum = momentum }
        if let weightDecay { config.optimizer.weightDecay = weightDecay }
        if let seed { config.seed = seed }
        if let compute { config.compute = compute == .float32 ? nil : compute }
        return config
    }

    /// The weights of --init-from, with `config`'s hidden widths taken from them when --hidden left them
    /// out; nil without --init-from. The model must take the data's inputs and classes.
    public func initialParameters(for config: inout TrainingConfig) throws -> [Float]? {
        guard let initFrom else { return nil }
        let model = try ModelFile.loadModel(from: initFrom, activation: config.model.hiddenActivation)
        let sizes = model.spec.layerSizes
        if hidden == nil { config.model.layerSizes = [config.model.inputSize] + sizes.dropFirst().dropLast() + [config.model.classCount] }
        guard sizes == config.model.layerSizes, model.spec.useBias == config.model.useBias else {
            throw ModelFileError(path: initFrom, reason: "it is a \(sizes.map(String.init).joined(separator: "-"))\(model.spec.useBias ? "" : " unbiased") model, "
                                 + "but this run trains \(config.model.layerSizes.map(String.init).joined(separator: "-"))\(config.model.useBias ? "" : " unbiased"); "
                                 + "start from a model of the data's inputs and classes, or leave out --hidden and --no-bias")
        }
        return model.parameters
    }

    var hiddenWidths: [Int]? {
        hidden.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) ?? -1 } }
    }

    public mutating func validate() throws {
        if let hidden, let widths = hiddenWidths, widths.contains(where: { $0 < 1 }) {
            throw ValidationError("--hidden '\(hidden)' must be comma-separated layer widths of at least 1, such as 128 or 512,256")
        }
        if let warmup, Warmup(argument: warmup) == nil {
            throw ValidationError("--warmup '\(warmup)' must be a number of steps (500) or of epochs (1epoch, 0.5epochs)")
        }
        if compute == .bf16, let problem = BF16Support.currentProblem { throw ValidationError(problem) }
        // Check everything else against a stand-in for the data's shape; the data cannot change these verdicts.
        if let problem = config(inputSize: 784, classCount: 10).problems.first {
            throw ValidationError(problem)
        }
    }
}

extension Activation: ExpressibleByArgument {}
extension ComputePrecision: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}
extension LearningRateScaling: ExpressibleByArgument {}
extension AugmentationKind: ExpressibleByArgument {}
extension Loss: ExpressibleByArgument {}
extension OptimizerConfig.Kind: ExpressibleByArgument {}
extension Initialization: ExpressibleByArgument {}
