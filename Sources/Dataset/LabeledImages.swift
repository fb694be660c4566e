import CKernels

/// How a data set's features are stored, and travel in a shard: bytes are the compact
/// form of images (pixels 0-255, divided by 255 as a batch is formed); floats are
/// features already normalised, used as they are.
public enum FeatureType: UInt8, Sendable, CustomStringConvertible {
    case uint8 = 1
    case float32 = 2

    public var byteWidth: Int { self == .uint8 ? 1 : 4 }
    public var description: String { self == .uint8 ? "uint8" : "float32" }
}

/// Samples and their labels, kept in their compact type until a batch is formed.
public struct LabeledImages: Equatable, Sendable {
    /// (count, features): one row of pixel bytes per sample, when `featureType` is uint8.
    public private(set) var pixels: [UInt8]
    /// (count, features): one row of floats per sample, when `featureType` is float32.
    public private(set) var values: [Float]
    /// (count): class indices, each below `classCount`.
    public private(set) var labels: [UInt8]
    public let featureCount: Int
    public let classCount: Int
    public let featureType: FeatureType
    /// What bytes are multiplied by as a batch is formed: 1 / 255 (pixels into [0, 1]) unless
    /// the normalisation found a smaller largest value (load_digits' 0-16).
    public private(set) var byteScale: Float = 1 / 255

    public var count: Int { labels.count }

    public init(pixels: [UInt8], labels: [UInt8], featureCount: Int, classCount: Int) {
        precondition(featureCount > 0 && pixels.count == labels.count * featureCount)
        self.pixels = pixels
        self.values = []
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
        self.featureType = .uint8
    }

    public init(values: [Float], labels: [UInt8], featureCount: Int, classCount: Int) {
        precondition(featureCount > 0 && values.count == labels.count * featureCount)
        self.pixels = []
        self.values = values
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
        self.featureType = .float32
    }

    /// No samples yet, of `featureType`: a worker's storage before its first shard.
    public static func empty(featureType: FeatureType, featureCount: Int, classCount: Int) -> LabeledImages {
        featureType == .uint8
            ? LabeledImages(pixels: [], labels: [], featureCount: featureCount, classCount: classCount)
            : LabeledImages(values: [], labels: [], featureCount: featureCount, classCount: classCount)
    }

    /// The bytes of the features, as a shard carries them.
    public var featureBytes: Int { count * featureCount * featureType.byteWidth }

    /// Adds samples at the end: a worker's storage grows as it is handed more. `features`
    /// holds `featureType`'s values, little-endian, at any alignment.
    public mutating func append(features: UnsafeRawBufferPointer, labels moreLabels: UnsafeRawBufferPointer) {
        precondition(features.count == moreLabels.count * featureCount * featureType.byteWidth)
        switch featureType {
        case .uint8:
            pixels.append(contentsOf: features)
        case .float32:
            let start = values.count
            values.append(contentsOf: repeatElement(0, count: features.count / 4))
            values.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[(start * 4)...]).copyMemory(from: features)
            }
        }
        labels.append(contentsOf: moreLabels)
    }

    public mutating func append(pixels morePixels: UnsafeRawBufferPointer, labels moreLabels: UnsafeRawBufferPointer) {
        append(features: morePixels, labels: moreLabels)
    }

    /// Writes the samples at `indices` into `inputs` (n, features) as floats (pixels in [0, 1])
    /// and their labels into `labelsOut` (n). The step loop's only pass over the features.
    public func gather(_ indices: UnsafeBufferPointer<Int32>, inputs: UnsafeMutablePointer<Float>,
                       labels labelsOut: UnsafeMutablePointer<UInt8>) {
        gatherLabels(indices, into: labelsOut)
        guard let first = indices.baseAddress else { return }
        switch featureType {
        case .uint8:
            pixels.withUnsafeBufferPointer { source in
                dptrain_gather_rows(source.baseAddress!, featureCount, first, indices.count, inputs, byteScale)
            }
        case .float32:
            values.withUnsafeBufferPointer { source in
                for (row, index) in indices.enumerated() {
                    (inputs + row * featureCount).update(from: source.baseAddress! + Int(index) * featureCount, count: featureCount)
                }
            }
        }
    }

    /// Writes the samples at `indices` into `pixels` (n, features) as bfloat16 pixel values 0...255
    /// (exact), and their labels into `labelsOut` (n): the bf16 step loop's only pass over pixels.
    public func gatherPixels(_ indices: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<UInt16>,
                             labels labelsOut: UnsafeMutablePointer<UInt8>) {
        precondition(featureType == .uint8 && byteScale == 1 / 255, "bf16 compute takes pixels scaled by 1/255: the commands refuse other data")
        gatherLabels(indices, into: labelsOut)
        guard let first = indices.baseAddress else { return }
        pixels.withUnsafeBufferPointer { source in
            dptrain_gather_rows_bf16(source.baseAddress!, featureCount, first, indices.count, out)
        }
    }

    private func gatherLabels(_ indices: UnsafeBufferPointer<Int32>, into labelsOut: UnsafeMutablePointer<UInt8>) {
        labels.withUnsafeBufferPointer { labels in
            for (row, index) in indices.enumerated() {
                precondition(index >= 0 && Int(index) < labels.count, "sample \(index) is outside the set")
                labelsOut[row] = labels[Int(index)]
            }
        }
    }

    public func gather(_ indices: ArraySlice<Int32>, inputs: UnsafeMutablePointer<Float>,
                       labels labelsOut: UnsafeMutablePointer<UInt8>) {
        indices.withUnsafeBufferPointer { gather($0, inputs: inputs, labels: labelsOut) }
    }

    /// The consecutive samples `range`, for evaluation.
    public func gather(_ range: Range<Int>, inputs: UnsafeMutablePointer<Float>, labels labelsOut: UnsafeMutablePointer<UInt8>) {
        gather(ArraySlice(range.map { Int32($0) }), inputs: inputs, labels: labelsOut)
    }

    /// The samples at `indices`, as a new set (for shards and splits).
    @inlinable
    public func subset<Indices: Collection>(_ indices: Indices) -> LabeledImages where Indices.Element: BinaryInteger {
        var labels: [UInt8] = []
        labels.reserveCapacity(indices.count)
        for index in indices { labels.append(self.labels[Int(index)]) }
        switch featureType {
        case .uint8:
            return LabeledImages(pixels: Self.rows(pixels, indices, featureCount), labels: labels,
                                 featureCount: featureCount, classCount: classCount).withByteScale(byteScale)
        case .float32:
            return LabeledImages(values: Self.rows(values, indices, featureCount), labels: labels,
                                 featureCount: featureCount, classCount: classCount)
        }
    }

    @inlinable
    static func rows<Element, Indices: Collection>(_ source: [Element], _ indices: Indices, _ width: Int) -> [Element]
    where Indices.Element: BinaryInteger {
        var rows: [Element] = []
        rows.reserveCapacity(indices.count * width)
        for index in indices {
            let sample = Int(index)
            rows.append(contentsOf: source[(sample * width)..<((sample + 1) * width)])
        }
        return rows
    }

    /// The same samples with `classCount` classes: a test set takes the training set's count.
    public func withClassCount(_ classes: Int) -> LabeledImages {
        featureType == .uint8
            ? LabeledImages(pixels: pixels, labels: labels, featureCount: featureCount, classCount: classes).withByteScale(byteScale)
            : LabeledImages(values: values, labels: labels, featureCount: featureCount, classCount: classes)
    }

    /// The same bytes, multiplied by `scale` as a batch is formed.
    public func withByteScale(_ scale: Float) -> LabeledImages {
        var copy = self
        copy.byteScale = scale
        return copy
    }

    /// The same labels with `values` (count, features) as the features: normalised floats.
    public func withValues(_ values: [Float]) -> LabeledImages {
        LabeledImages(values: values, labels: labels, featureCount: featureCount, classCount: classCount)
    }
}
