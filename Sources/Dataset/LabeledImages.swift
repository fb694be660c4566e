/// Images and their labels, kept as bytes until a batch is formed.
public struct LabeledImages: Equatable, Sendable {
    /// (count, features): one row of pixel bytes per sample.
    public let pixels: [UInt8]
    /// (count): class indices, each below `classCount`.
    public let labels: [UInt8]
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

    /// Writes the samples at `indices` into `inputs` (n, features) as floats in [0, 1]
    /// and their labels into `labelsOut` (n).
    public func gather<Indices: Collection>(_ indices: Indices, inputs: UnsafeMutablePointer<Float>,
                                            labels labelsOut: UnsafeMutablePointer<UInt8>) where Indices.Element: BinaryInteger {
        let scale: Float = 1 / 255
        pixels.withUnsafeBufferPointer { source in
            var row = 0
            for index in indices {
                let sample = Int(index)
                let from = source.baseAddress! + sample * featureCount
                let to = inputs + row * featureCount
                for f in 0..<featureCount { to[f] = Float(from[f]) * scale }
                labelsOut[row] = labels[sample]
                row += 1
            }
        }
    }

    /// The samples at `indices`, as a new set (for shards).
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
