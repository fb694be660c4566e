/// Where each layer's weights and biases live in the one flat parameter buffer.
///
/// Layer l's weights are row-major (fanIn, fanOut) so that a batch's
/// activations (B, fanIn) times W gives (B, fanOut) with no transpose; its
/// bias (fanOut) follows immediately. Gradients use the same layout.
public struct ParameterLayout: Equatable, Sendable {
    public struct Layer: Equatable, Sendable {
        public let fanIn: Int
        public let fanOut: Int
        public let weightOffset: Int   // (fanIn, fanOut)
        public let biasOffset: Int?    // (fanOut), nil without biases
        public var weightCount: Int { fanIn * fanOut }
    }

    public let layers: [Layer]
    public let parameterCount: Int

    public init(_ spec: ModelSpec) {
        var layers: [Layer] = []
        var offset = 0
        for l in 0..<spec.layerCount {
            let fanIn = spec.layerSizes[l], fanOut = spec.layerSizes[l + 1]
            let weightOffset = offset
            offset += fanIn * fanOut
            var biasOffset: Int? = nil
            if spec.useBias {
                biasOffset = offset
                offset += fanOut
            }
            layers.append(Layer(fanIn: fanIn, fanOut: fanOut, weightOffset: weightOffset, biasOffset: biasOffset))
        }
        self.layers = layers
        self.parameterCount = offset
    }
}
