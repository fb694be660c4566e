import CKernels

/// The buffers and the oneDNN products of one bf16 forward and backward pass (`--compute bf16`),
/// made once for the largest chunk: nothing here allocates or creates a primitive per step.
///
/// The same passes as `Workspace`, with every matrix product on bfloat16 inputs accumulated in
/// float32, and the passes around them fused:
///   X      the batch's pixels as bfloat16 integers 0...255, exact; the first layer's products
///          are scaled by 1/255 in float32 (a pixel / 255 would round in bfloat16).
///   W      every parameter converted to bfloat16 once a step (`loadWeights`), read by all chunks.
///   A_l    = act(s A_{l-1} W_l + b_l), written as bfloat16 by the forward product itself (scale,
///          bias, activation and rounding fused into it); the last layer's Z in float32 for
///          softmax and the loss. s is 1/255 for the first layer, 1 for the others.
///   dZ_l   = (dZ_{l+1} W_{l+1}^T) * act'(A_l): the product in float32, then one pass masks it,
///          sums the bias gradient and rounds to bfloat16.
///   gW_l   = s A_{l-1}^T dZ_l in float32, straight into the chunk's gradient.
/// Every product runs on all `capacity` rows: rows past the chunk's have zero dZ, so they add
/// nothing, and the products' shapes (and so their bits) are the same for every chunk.
public final class BF16Workspace {
    public let spec: ModelSpec
    public let layout: ParameterLayout
    /// The largest chunk these buffers hold, and the rows of every product.
    public let capacity: Int
    /// What the first layer's products are scaled by: inputs are pixels 0...255.
    public static let inputScale: Float = 1 / 255

    /// X, (capacity, I): the caller writes a chunk's pixels here, as bfloat16, before `gradient`.
    public let input: UnsafeMutablePointer<UInt16>
    /// The parameters (P) as bfloat16, as of the last `loadWeights`.
    private let weights: UnsafeMutablePointer<UInt16>
    /// A_l of each hidden layer, (capacity, H_l) bfloat16.
    private let hidden: [UnsafeMutablePointer<UInt16>]
    /// Z then O of the last layer, and dZ of the last layer, each (capacity, C) float32.
    private let output: UnsafeMutablePointer<Float>
    private let outputGradient: UnsafeMutablePointer<Float>
    /// dZ of the layer being differentiated and of the one below it, (capacity, widest) bfloat16.
    private var delta: UnsafeMutablePointer<UInt16>
    private var deltaBelow: UnsafeMutablePointer<UInt16>
    /// dA of the layer below, (capacity, widest) float32, before the activation's derivative.
    private let belowGradient: UnsafeMutablePointer<Float>

    private let forwardProducts: [Matmul]
    private let weightGradientProducts: [Matmul]
    /// dA_{l-1} = dZ_l W_l^T, for every layer but the first.
    private let inputGradientProducts: [Matmul?]

    /// Throws when oneDNN cannot make a product (check `BF16Support` first: without native bf16
    /// it would make slow emulated ones).
    public init(spec: ModelSpec, capacity: Int) throws {
        precondition(spec.problems.isEmpty && capacity > 0)
        self.spec = spec
        layout = ParameterLayout(spec)
        self.capacity = capacity
        func zeroed<T: Numeric>(_ count: Int, _: T.Type) -> UnsafeMutablePointer<T> {
            let buffer = UnsafeMutablePointer<T>.allocate(capacity: count)
            buffer.initialize(repeating: 0, count: count)
            return buffer
        }
        input = zeroed(capacity * spec.inputSize, UInt16.self)
        weights = zeroed(layout.parameterCount, UInt16.self)
        hidden = spec.layerSizes.dropFirst().dropLast().map { zeroed(capacity * $0, UInt16.self) }
        output = zeroed(capacity * spec.classCount, Float.self)
        outputGradient = zeroed(capacity * spec.classCount, Float.self)
        delta = zeroed(capacity * spec.widestLayer, UInt16.self)
        deltaBelow = zeroed(capacity * spec.widestLayer, UInt16.self)
        belowGradient = zeroed(capacity * spec.widestLayer, Float.self)

        let activation = Matmul.Activation(spec.hiddenActivation)
        let last = layout.layers.count - 1
        forwardProducts = try layout.layers.enumerated().map { l, layer in
            try Matmul(m: capacity, k: layer.fanIn, n: layer.fanOut, bf16Output: l < last,
                       scale: l == 0 ? Self.inputScale : 1, bias: layer.biasOffset != nil,
                       activation: l < last ? activation : .identity)
        }
        weightGradientProducts = try layout.layers.enumerated().map { l, layer in
            try Matmul(m: layer.fanIn, k: capacity, n: layer.fanOut, transposeA: true, bf16Output: false,
                       scale: l == 0 ? Self.inputScale : 1)
        }
        inputGradientProducts = try layout.layers.enumerated().map { l, layer in
            l == 0 ? nil : try Matmul(m: capacity, k: layer.fanOut, n: layer.fanIn, transposeB: true, bf16Output: false)
        }
    }

    deinit {
        input.deallocate()
        weights.deallocate()
        hidden.forEach { $0.deallocate() }
        output.deallocate()
        outputGradient.deallocate()
        delta.deallocate()
        deltaBelow.deallocate()
        belowGradient.deallocate()
    }

    /// The kernels oneDNN runs the products on, e.g. ["brg:avx512_core_bf16"].
    public var kernels: [String] {
        var seen: [String] = []
        for product in forwardProducts + weightGradientProducts + inputGradientProducts.compactMap({ $0 }) where !seen.contains(product.kernel) {
            seen.append(product.kernel)
        }
        return seen
    }

    /// Rounds the parameters to bfloat16 for the products: once a step, before its first chunk.
    public func loadWeights(_ parameters: UnsafePointer<Float>) {
        dptrain_float_to_bf16(parameters, layout.parameterCount, weights)
    }

    /// Forward and backward over the first `rows` samples of `input`, with the weights of the last
    /// `loadWeights` (the biases are read from `parameters`): overwrites `gradient` (P) with the
    /// gradient of the summed loss, and returns the batch's score.
    public func gradient(parameters: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, rows: Int,
                         into gradient: UnsafeMutablePointer<Float>) -> BatchScore {
        precondition(rows > 0 && rows <= capacity)
        let layers = layout.layers, last = layers.count - 1
        func below(_ l: Int) -> UnsafePointer<UInt16> { UnsafePointer(l == 0 ? input : hidden[l - 1]) }

        for (l, layer) in layers.enumerated() {
            forwardProducts[l].run(below(l), weights + layer.weightOffset, bias: layer.biasOffset.map { parameters + $0 },
                                   into: l < last ? UnsafeMutableRawPointer(hidden[l]) : UnsafeMutableRawPointer(output))
        }
        let classes = spec.classCount
        if spec.loss == .crossEntropy {
            softmaxForward(output, rows: rows, columns: classes)
        } else {
            sigmoidForward(output, count: rows * classes)
        }
        let score = scoreOutput(spec.loss, output: output, labels: labels, rows: rows, classes: classes,
                                outputGradient: outputGradient, smoothing: spec.labelSmoothing ?? 0)
        // dZ of the last layer as bfloat16, zero past the chunk's rows; its bias gradient in float32.
        dptrain_float_to_bf16(outputGradient, rows * classes, delta)
        (delta + rows * classes).update(repeating: 0, count: (capacity - rows) * classes)
        if let biasOffset = layers[last].biasOffset {
            let gb = gradient + biasOffset
            gb.update(repeating: 0, count: classes)
            for r in 0..<rows {
                let row = outputGradient + r * classes
                for c in 0..<classes { gb[c] += row[c] }
            }
        }

        for l in stride(from: last, through: 0, by: -1) {
            let layer = layers[l]
            weightGradientProducts[l].run(below(l), delta, into: gradient + layer.weightOffset)
            guard let inputGradient = inputGradientProducts[l] else { continue }
            inputGradient.run(delta, weights + layer.weightOffset, into: belowGradient)
            dptrain_bf16_activation_backward(Int32(Matmul.Activation(spec.hiddenActivation).rawValue), belowGradient, hidden[l - 1],
                                             capacity, layer.fanIn, deltaBelow, layers[l - 1].biasOffset.map { gradient + $0 })
            swap(&delta, &deltaBelow)
        }
        return score
    }
}

extension Matmul.Activation {
    init(_ activation: Activation) {
        switch activation {
        case .relu: self = .relu
        case .sigmoid: self = .logistic
        case .tanh: self = .tanh
        }
    }
}
