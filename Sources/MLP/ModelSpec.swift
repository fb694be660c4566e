/// What a model is: the widths of its layers, its activations, its loss.
///
/// Key to the shapes in this module's comments:
///   B  samples in the batch
///   I  input features (784 for MNIST)
///   H  width of a hidden layer
///   C  classes (10 for MNIST)
///   P  total parameter count
public struct ModelSpec: Codable, Equatable, Sendable {
    /// Input width, each hidden width, then the class count: [784, 128, 10].
    public var layerSizes: [Int]
    /// Activation of every hidden layer.
    public var hiddenActivation: Activation
    /// The loss fixes the output activation: softmax for cross-entropy, sigmoid for squared error.
    public var loss: Loss
    public var useBias: Bool
    /// Training only (`--label-smoothing`): the cross-entropy's target puts this share of the
    /// sample evenly over every class and the rest on its label (Szegedy et al. 2016), which
    /// keeps the logits from growing without bound. Nil or 0: the one-hot target. Evaluation
    /// scores the plain loss.
    public var labelSmoothing: Float?
    /// Training only (`--dropout`): the probability a hidden unit of a sample is dropped (`DropoutMasks`). Nil or 0: none.
    public var dropout: Float?

    public init(layerSizes: [Int], hiddenActivation: Activation = .relu,
                loss: Loss = .crossEntropy, useBias: Bool = true) {
        self.layerSizes = layerSizes
        self.hiddenActivation = hiddenActivation
        self.loss = loss
        self.useBias = useBias
    }

    public var inputSize: Int { layerSizes.first ?? 0 }
    public var classCount: Int { layerSizes.last ?? 0 }
    /// Dense layers, each from layerSizes[l] to layerSizes[l + 1].
    public var layerCount: Int { max(layerSizes.count - 1, 0) }
    public var widestLayer: Int { layerSizes.max() ?? 0 }

    public var parameterCount: Int { ParameterLayout(self).parameterCount }

    /// "784-128-10 relu, cross-entropy, biases"
    public var summary: String {
        let sizes = layerSizes.map(String.init).joined(separator: "-")
        return "\(sizes) \(hiddenActivation.rawValue), \(loss.rawValue), \(useBias ? "biases" : "no biases")"
    }

    /// Problems a user can fix, in words; empty when the spec is usable.
    public var problems: [String] {
        var found: [String] = []
        if layerSizes.count < 2 { found.append("a model needs an input and an output layer") }
        if let zero = layerSizes.firstIndex(where: { $0 <= 0 }) {
            found.append("layer \(zero) has width \(layerSizes[zero]); every layer needs at least one unit")
        }
        if classCount == 1 && loss == .crossEntropy {
            found.append("cross-entropy needs at least two classes")
        }
        if let dropout {
            if !(0..<1).contains(dropout) { found.append("--dropout must be in [0, 1) (got \(dropout))") }
            else if dropout > 0 && hiddenActivation != .relu { found.append("--dropout needs --activation relu") }
        }
        if let labelSmoothing {
            if !(0..<1).contains(labelSmoothing) { found.append("--label-smoothing must be in [0, 1) (got \(labelSmoothing))") }
            else if loss != .crossEntropy && labelSmoothing > 0 { found.append("--label-smoothing needs --loss cross-entropy") }
        }
        return found
    }
}

public enum Activation: String, CaseIterable, Codable, Sendable {
    case relu, sigmoid, tanh
}

public enum Loss: String, CaseIterable, Codable, Sendable {
    /// Softmax output, cross-entropy against the one-hot target.
    case crossEntropy = "cross-entropy"
    /// Sigmoid output, squared error E = Y - O, as in dptrain's original design.
    case mse
}

public enum Initialization: String, CaseIterable, Codable, Sendable {
    /// uniform(-0.5, 0.5), as in the original design.
    case uniform
    /// normal(0, sqrt(2 / fan_in)), for ReLU.
    case he
    /// uniform(±sqrt(6 / (fan_in + fan_out))), for sigmoid and tanh.
    case xavier
}
