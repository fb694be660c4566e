/// What is done to the features before the network sees them, fitted on the training samples
/// and stored in the model so that `evaluate` does the same to new data.
public enum NormalizeMode: String, CaseIterable, Sendable {
    /// Features as they are.
    case none
    /// Into [0, 1]: divided by the training set's largest magnitude (pixels of 0-255 by 255).
    case scale
    /// Each feature less its training mean, over its training standard deviation.
    case standardize

    /// Bytes are images: scale, as dptrain always did. Floats are usually a table whose columns
    /// differ by orders of magnitude: standardize.
    public static func defaultMode(for type: FeatureType) -> NormalizeMode { type == .uint8 ? .scale : .standardize }
}

public struct Normalization: Equatable, Sendable {
    public let mode: NormalizeMode
    /// (features): each feature becomes (x - offsets[f]) * factors[f]. Both empty when bytes
    /// are kept as bytes and multiplied by `byteScale` as a batch is formed.
    public let offsets: [Float]
    public let factors: [Float]
    public let byteScale: Float?

    public init(mode: NormalizeMode, offsets: [Float], factors: [Float]) {
        precondition(offsets.count == factors.count)
        self.mode = mode
        self.offsets = offsets
        self.factors = factors
        self.byteScale = nil
    }

    /// Bytes kept, multiplied by `scale` at gather time.
    public init(byteScale scale: Float) {
        mode = .scale
        offsets = []
        factors = []
        byteScale = scale
    }

    /// pixels / 255 at gather time: the default for images, and the models of dptrain before it stored this.
    public static let pixelScale = Normalization(byteScale: 1 / 255)
    public var isPixelScale: Bool { byteScale == 1 / 255 }

    /// Per feature, whatever the form: what the model file stores.
    public func perFeature(_ features: Int) -> (offsets: [Float], factors: [Float]) {
        byteScale.map { ([Float](repeating: 0, count: features), [Float](repeating: $0, count: features)) } ?? (offsets, factors)
    }

    /// The normalisation `mode` fitted on `train`.
    public static func fit(_ mode: NormalizeMode, to train: LabeledImages) -> Normalization {
        let features = train.featureCount
        switch (mode, train.featureType) {
        case (.scale, .uint8):
            // MNIST's largest pixel is 255: the factor is 1 / 255, to the bit, as it always was.
            let largest = train.pixels.max() ?? 255
            return Normalization(byteScale: 1 / Float(largest == 0 ? 255 : largest))
        case (.none, _):
            return Normalization(mode: .none, offsets: .init(repeating: 0, count: features), factors: .init(repeating: 1, count: features))
        case (.scale, .float32):
            let largest = train.values.reduce(Float(0)) { max($0, abs($1)) }
            return Normalization(mode: .scale, offsets: .init(repeating: 0, count: features),
                                 factors: .init(repeating: largest > 0 ? 1 / largest : 1, count: features))
        case (.standardize, _):
            var sums = [Double](repeating: 0, count: features), squares = sums
            train.forEachValue { feature, x in
                sums[feature] += x
                squares[feature] += x * x
            }
            let n = Double(max(train.count, 1))
            var offsets: [Float] = [], factors: [Float] = []
            for f in 0..<features {
                let mean = sums[f] / n
                let deviation = (max(squares[f] / n - mean * mean, 0)).squareRoot()
                offsets.append(Float(mean))
                // A constant feature (an image's border) stays at zero rather than dividing by nothing.
                factors.append(deviation > 1e-12 ? Float(1 / deviation) : 1)
            }
            return Normalization(mode: .standardize, offsets: offsets, factors: factors)
        }
    }

    /// `set` as the network sees it: bytes kept for the pixel scale, floats otherwise.
    public func apply(to set: LabeledImages) -> LabeledImages {
        if let byteScale {
            guard set.featureType == .float32 else { return set.withByteScale(byteScale) }
            return set.withValues(set.values.map { $0 * byteScale })
        }
        precondition(offsets.count == set.featureCount)
        var values = [Float](repeating: 0, count: set.count * set.featureCount)
        let width = set.featureCount
        switch set.featureType {
        case .uint8:
            for i in values.indices { values[i] = (Float(set.pixels[i]) - offsets[i % width]) * factors[i % width] }
        case .float32:
            for i in values.indices { values[i] = (set.values[i] - offsets[i % width]) * factors[i % width] }
        }
        return set.withValues(values)
    }
}

extension LabeledImages {
    /// Calls `body(feature, value)` for every feature of every sample, in order.
    func forEachValue(_ body: (Int, Double) -> Void) {
        let width = featureCount
        switch featureType {
        case .uint8: for (i, x) in pixels.enumerated() { body(i % width, Double(x)) }
        case .float32: for (i, x) in values.enumerated() { body(i % width, Double(x)) }
        }
    }
}
