/// Dropout of hidden units (`--dropout P`, Srivastava et al. 2014): in training, each hidden unit
/// of each sample is zeroed with probability P and the others scaled by 1 / (1 - P), so that
/// evaluation, which drops nothing, sees the same expected activations. A sample's mask is drawn
/// from the run's seed, the epoch and the sample itself (a hash of its pixels, as `--augment`
/// draws), so it is the same bits on any thread of any worker, and the weights are the same for
/// any number of them. ReLU only: the backward pass reads the derivative off the masked output,
/// which is right for ReLU alone.
public struct DropoutDraw: Equatable, Sendable {
    public let rate: Float
    public let seed: UInt64
    public let epoch: Int

    public init(rate: Float, seed: UInt64, epoch: Int) {
        self.rate = rate
        self.seed = seed
        self.epoch = epoch
    }
}

/// One mask per hidden layer, (capacity, width) each, for a batch: 0 or 1 / (1 - rate).
public final class DropoutMasks {
    private let widths: [Int]
    private let masks: [UnsafeMutablePointer<Float>]
    private let capacity: Int

    public init(spec: ModelSpec, capacity: Int) {
        widths = Array(spec.layerSizes.dropFirst().dropLast())
        self.capacity = capacity
        masks = widths.map { width in
            let mask = UnsafeMutablePointer<Float>.allocate(capacity: capacity * width)
            mask.initialize(repeating: 1, count: capacity * width)
            return mask
        }
    }

    deinit { masks.forEach { $0.deallocate() } }

    /// Draws the masks of `rows` samples, whose images are the rows of `images` (rows, features).
    /// Dropout's draws are kept apart from augmentation's by their own seed.
    public func draw(_ draw: DropoutDraw, images: UnsafePointer<Float>, features: Int, rows: Int) {
        precondition(rows <= capacity)
        let keep = 1 - draw.rate, scale = 1 / keep
        for r in 0..<rows {
            var draws = SampleDraws(seed: draw.seed ^ 0xD0D0_0DE5_0DE5_D0D0, epoch: draw.epoch, image: images + r * features, count: features)
            for (l, width) in widths.enumerated() {
                let mask = masks[l] + r * width
                var j = 0
                while j < width {
                    let (a, b, c, d) = draws.quarters()
                    mask[j] = a < keep ? scale : 0
                    if j + 1 < width { mask[j + 1] = b < keep ? scale : 0 }
                    if j + 2 < width { mask[j + 2] = c < keep ? scale : 0 }
                    if j + 3 < width { mask[j + 3] = d < keep ? scale : 0 }
                    j += 4
                }
            }
        }
    }

    /// values (rows, width of hidden layer `layer`) *= its mask.
    func apply(layer: Int, to values: UnsafeMutablePointer<Float>, rows: Int) {
        let mask = masks[layer]
        for i in 0..<(rows * widths[layer]) { values[i] *= mask[i] }
    }
}
