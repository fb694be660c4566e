import CKernels

/// Images and their labels, kept as bytes until a batch is formed.
public struct LabeledImages: Equatable, Sendable {
    /// (count, features): one row of pixel bytes per sample.
    public private(set) var pixels: [UInt8]
    /// (count): class indices, each below `classCount`.
    public private(set) var labels: [UInt8]
    public let featureCount: Int
    public let classCount: Int

    public var count: Int { labels.count }

    public init(pixels: [UInt8], labels: [UInt8], featureCount: Int, classCount: Int) {
        precondition(featureCount > 0 && pixels.count == labels.count * featureCount)
        self.pixels = pixels
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
    }

    /// Adds samples at the end: a worker's storage grows as it is handed more.
    public mutating func append(pixels morePixels: UnsafeRawBufferPointer, labels moreLabels: UnsafeRawBufferPointer) {
        precondition(morePixels.count == moreLabels.count * featureCount)
        pixels.append(contentsOf: morePixels)
        labels.append(contentsOf: moreLabels)
    }

    /// Writes the samples at `indices` into `inputs` (n, features) as floats in [0, 1]
    /// and their labels into `labelsOut` (n). The step loop's only pass over pixels.
    public func gather(_ indices: UnsafeBufferPointer<Int32>, inputs: UnsafeMutablePointer<Float>,
                       labels labelsOut: UnsafeMutablePointer<UInt8>) {
        gatherLabels(indices, into: labelsOut)
        guard let first = indices.baseAddress else { return }
        pixels.withUnsafeBufferPointer { source in
            dptrain_gather_rows(source.baseAddress!, featureCount, first, indices.count, inputs, 1 / 255)
        }
    }

    /// Writes the samples at `indices` into `pixels` (n, features) as bfloat16 pixel values 0...255
    /// (exact), and their labels into `labelsOut` (n): the bf16 step loop's only pass over pixels.
    public func gatherPixels(_ indices: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<UInt16>,
                             labels labelsOut: UnsafeMutablePointer<UInt8>) {
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

    /// The samples at `indices`, as a new set (for shards).
    @inlinable
    public func subset<Indices: Collection>(_ indices: Indices) -> LabeledImages where Indices.Element: BinaryInteger {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(indices.count * featureCount)
        var labels: [UInt8] = []
        labels.reserveCapacity(indices.count)
        for index in indices {
            let sample = Int(index)
            pixels.append(contentsOf: self.pixels[(sample * featureCount)..<((sample + 1) * featureCount)])
            labels.append(self.labels[sample])
        }
        return LabeledImages(pixels: pixels, labels: labels, featureCount: featureCount, classCount: classCount)
    }
}
