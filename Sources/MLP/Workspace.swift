import CBLAS

/// The buffers of one forward and backward pass, allocated once for the
/// largest batch, and the passes themselves. Nothing here allocates per step.
///
/// Forward:  A_0 = X;  A_l = act(A_{l-1} W_l + b_l);  last layer softmax or sigmoid.
/// Backward: dZ_L from the loss; gW_l = A_{l-1}^T dZ_l; gb_l = sum over rows of dZ_l;
///           dZ_{l-1} = (dZ_l W_l^T) * act'(A_{l-1}).
public final class Workspace {
    public let spec: ModelSpec
    public let layout: ParameterLayout
    /// The largest batch these buffers hold.
    public let capacity: Int

    /// X, (capacity, I): the caller writes a batch here before `forward`.
    public let input: UnsafeMutablePointer<Float>
    /// A_l for l = 1...L, each (capacity, layerSizes[l]); the last is the output.
    let activations: [UnsafeMutablePointer<Float>]
    /// dZ of the layer being differentiated and of the one below it, each (capacity, widest).
    private var delta: UnsafeMutablePointer<Float>
    private var deltaBelow: UnsafeMutablePointer<Float>

    /// Training only: the masks `gradient` drops hidden units by (`ModelSpec.dropout`), which
    /// its caller draws for each batch; nil for none. Evaluation (`forward`, `score`) drops nothing.
    public var dropout: DropoutMasks?

    public init(spec: ModelSpec, capacity: Int) {
        precondition(spec.problems.isEmpty && capacity > 0)
        self.spec = spec
        self.layout = ParameterLayout(spec)
        self.capacity = capacity
        input = .allocate(capacity: capacity * spec.inputSize)
        input.initialize(repeating: 0, count: capacity * spec.inputSize)
        activations = spec.layerSizes.dropFirst().map { width in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: capacity * width)
            buffer.initialize(repeating: 0, count: capacity * width)
            return buffer
        }
        delta = .allocate(capacity: capacity * spec.widestLayer)
        deltaBelow = .allocate(capacity: capacity * spec.widestLayer)
        delta.initialize(repeating: 0, count: capacity * spec.widestLayer)
        deltaBelow.initialize(repeating: 0, count: capacity * spec.widestLayer)
    }

    deinit {
        input.deallocate()
        activations.forEach { $0.deallocate() }
        delta.deallocate()
        deltaBelow.deallocate()
    }

    /// O, (batch, C): the output of the last `forward`.
    public var output: UnsafePointer<Float> { UnsafePointer(activations[activations.count - 1]) }

    /// Runs the batch of `rows` samples in `input` through the model.
    public func forward(parameters: UnsafePointer<Float>, rows: Int, dropping: Bool = false) {
        precondition(rows > 0 && rows <= capacity)
        for (l, layer) in layout.layers.enumerated() {
            let below = l == 0 ? UnsafePointer(input) : UnsafePointer(activations[l - 1])
            let out = activations[l]
            linearForward(layer, parameters: parameters, input: below, output: out, rows: rows)
            let count = rows * layer.fanOut
            if l < layout.layers.count - 1 {
                activationForward(spec.hiddenActivation, out, count: count)
                if dropping, let dropout { dropout.apply(layer: l, to: out, rows: rows) }
            } else if spec.loss == .crossEntropy {
                softmaxForward(out, rows: rows, columns: layer.fanOut)
            } else {
                sigmoidForward(out, count: count)
            }
        }
    }

    /// Scores the last `forward` against `labels` without computing gradients.
    public func score(labels: UnsafePointer<UInt8>, rows: Int) -> BatchScore {
        scoreOutput(spec.loss, output: output, labels: labels, rows: rows,
                    classes: spec.classCount, outputGradient: nil)
    }

    /// Forward and backward over `rows` samples: overwrites `gradient` (P) with the
    /// gradient of the summed loss, and returns the batch's score.
    public func gradient(parameters: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, rows: Int,
                         into gradient: UnsafeMutablePointer<Float>) -> BatchScore {
        forward(parameters: parameters, rows: rows, dropping: true)
        let score = scoreOutput(spec.loss, output: output, labels: labels, rows: rows,
                                classes: spec.classCount, outputGradient: delta, smoothing: spec.labelSmoothing ?? 0)
        for l in stride(from: layout.layers.count - 1, through: 0, by: -1) {
            let layer = layout.layers[l]
            let below = l == 0 ? UnsafePointer(input) : UnsafePointer(activations[l - 1])
            linearBackward(layer, parameters: parameters, input: below, outputGradient: delta,
                           gradient: gradient, inputGradient: l > 0 ? deltaBelow : nil, rows: rows)
            if l > 0 {
                if let dropout { dropout.apply(layer: l - 1, to: deltaBelow, rows: rows) }
                activationBackward(spec.hiddenActivation, output: below, gradient: deltaBelow,
                                   count: rows * layer.fanIn)
                swap(&delta, &deltaBelow)
            }
        }
        return score
    }
}

/// Z (rows, fanOut) = A (rows, fanIn) W (fanIn, fanOut) + b.
func linearForward(_ layer: ParameterLayout.Layer, parameters: UnsafePointer<Float>,
                   input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int) {
    var beta: Float = 0
    if let biasOffset = layer.biasOffset {
        let bias = parameters + biasOffset
        for r in 0..<rows { (output + r * layer.fanOut).update(from: bias, count: layer.fanOut) }
        beta = 1
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                Int32(rows), Int32(layer.fanOut), Int32(layer.fanIn),
                1, input, Int32(layer.fanIn),
                parameters + layer.weightOffset, Int32(layer.fanOut),
                beta, output, Int32(layer.fanOut))
}

/// From dZ (rows, fanOut): gW (fanIn, fanOut) = A^T dZ, gb (fanOut) = column sums of dZ,
/// and, when asked, dA (rows, fanIn) = dZ W^T.
func linearBackward(_ layer: ParameterLayout.Layer, parameters: UnsafePointer<Float>,
                    input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                    gradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                    rows: Int) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                Int32(layer.fanIn), Int32(layer.fanOut), Int32(rows),
                1, input, Int32(layer.fanIn),
                outputGradient, Int32(layer.fanOut),
                0, gradient + layer.weightOffset, Int32(layer.fanOut))
    if let biasOffset = layer.biasOffset {
        let gb = gradient + biasOffset
        gb.update(repeating: 0, count: layer.fanOut)
        for r in 0..<rows {
            let row = outputGradient + r * layer.fanOut
            for c in 0..<layer.fanOut { gb[c] += row[c] }
        }
    }
    if let inputGradient {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                    Int32(rows), Int32(layer.fanIn), Int32(layer.fanOut),
                    1, outputGradient, Int32(layer.fanOut),
                    parameters + layer.weightOffset, Int32(layer.fanOut),
                    0, inputGradient, Int32(layer.fanIn))
    }
}
