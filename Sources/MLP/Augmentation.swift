import CBLAS
import Foundation

/// Random distortions of the training images (`--augment`), as Simard et al. (2003) trained
/// their MLPs on: each sample's distortion is drawn from the run's seed, the epoch and the
/// sample itself (a hash of its pixels), so the distorted sample is the same bits whoever
/// computes it, on any thread of any worker, and the weights stay the same for any number of
/// workers and threads. Training only: evaluation sees the images as they are. It is O(pixels)
/// a sample where the step is O(pixels x hidden).
public enum AugmentationKind: String, CaseIterable, Codable, Sendable {
    /// A translation by up to 2 pixels each way.
    case shift
    /// A rotation of up to 12 degrees, a scaling by up to 10% and a translation of up to 2
    /// pixels, sampled bilinearly.
    case affine
    /// Simard's elastic distortion: a random displacement field smoothed by a Gaussian of
    /// sigma 4 pixels and scaled by 34, sampled bilinearly; then a small affine map as above.
    case elastic
}

/// Distorts square images, row by row, for one epoch of one run.
public struct Augmentation: Equatable, Sendable {
    public let kind: AugmentationKind
    public let seed: UInt64
    public let epoch: Int
    /// The images are side x side pixels, in row order.
    public let side: Int

    public static let maxShift = 2
    public static let maxRotation: Float = 12 * .pi / 180
    public static let maxScaling: Float = 0.1
    public static let elasticSigma: Float = 4
    public static let elasticScale: Float = 34

    public init(kind: AugmentationKind, seed: UInt64, epoch: Int, side: Int) {
        self.kind = kind
        self.seed = seed
        self.epoch = epoch
        self.side = side
    }

    /// The side of the square images of `features` pixels; nil when they are not square.
    public static func side(features: Int) -> Int? {
        let side = Int(Double(features).squareRoot().rounded())
        return side * side == features && side >= 8 ? side : nil
    }

    /// Floats of scratch space `apply` needs.
    public var scratchCount: Int { paddedWidth * paddedWidth + 5 * side * side }

    /// The image is copied into a frame of background this wide on each side, so that sampling
    /// needs no bounds checks: a shift stays within it, and a farther point is clamped to it.
    static let pad = 3
    var paddedWidth: Int { side + 2 * Self.pad }

    /// Distorts each of `rows` images of `images` (rows, side x side) in place; pixels from outside
    /// the image take the value of its top-left pixel (the background).
    public func apply(_ images: UnsafeMutablePointer<Float>, rows: Int, scratch: UnsafeMutablePointer<Float>) {
        let pixels = side * side
        for r in 0..<rows {
            let image = images + r * pixels
            var draws = SampleDraws(seed: seed, epoch: epoch, image: UnsafePointer(image), count: pixels)
            let padded = scratch, width = paddedWidth, pad = Self.pad
            padded.update(repeating: image[0], count: width * width)
            for y in 0..<side { (padded + (y + pad) * width + pad).update(from: image + y * side, count: side) }
            let fields = scratch + width * width
            switch kind {
            case .shift:
                shift(padded, into: image, dx: draws.integer(Self.maxShift), dy: draws.integer(Self.maxShift))
            case .affine:
                let map = AffineMap(&draws, side: side)
                sample(padded, into: image) { x, y in map.source(x, y) }
            case .elastic:
                let temp = fields + 2 * pixels, gaussian = fields + 4 * pixels
                if r == 0 { fillGaussian(gaussian) }
                smoothFields(fields, &draws, temp: temp, gaussian: gaussian)
                let map = AffineMap(&draws, side: side)
                let side = side
                sample(padded, into: image) { x, y in
                    let (ax, ay) = map.source(x, y)
                    let i = 2 * y * side + x   // row y holds dx's row y, then dy's
                    return (ax + fields[i], ay + fields[i + side])
                }
            }
        }
    }

    /// image(x, y) = padded(x - dx, y - dy); the shift is within the frame.
    private func shift(_ padded: UnsafeMutablePointer<Float>, into image: UnsafeMutablePointer<Float>, dx: Int, dy: Int) {
        let width = paddedWidth, pad = Self.pad
        for y in 0..<side {
            (image + y * side).update(from: padded + (y - dy + pad) * width + pad - dx, count: side)
        }
    }

    /// image(x, y) = the padded image at `where(x, y)`, bilinearly; a point beyond the frame is
    /// clamped to its edge, where every tap is background as it would have been.
    @inline(__always)
    private func sample(_ padded: UnsafeMutablePointer<Float>, into image: UnsafeMutablePointer<Float>, at where: (Int, Int) -> (Float, Float)) {
        let width = paddedWidth, pad = Self.pad
        let low = Float(-pad), high = Float(side + pad - 2)
        for y in 0..<side {
            for x in 0..<side {
                var (sx, sy) = `where`(x, y)
                sx = min(max(sx, low), high)
                sy = min(max(sy, low), high)
                let x0 = sx.rounded(.down), y0 = sy.rounded(.down)
                let fx = sx - x0, fy = sy - y0
                let p = padded + (Int(y0) + pad) * width + Int(x0) + pad
                let top = p[0] + (p[1] - p[0]) * fx
                let bottom = p[width] + (p[width + 1] - p[width]) * fx
                image[y * side + x] = top + (bottom - top) * fy
            }
        }
    }

    static let kernelRadius = Int((3 * elasticSigma).rounded(.up))

    /// G (side, side): G[i][j] the normalised Gaussian weight of |i - j| within the kernel's
    /// radius, so that G F G smooths a field F separably, as zeros outside it would.
    private func fillGaussian(_ gaussian: UnsafeMutablePointer<Float>) {
        let radius = Self.kernelRadius
        var total: Float = 0
        for k in -radius...radius { total += expf(-Float(k * k) / (2 * Self.elasticSigma * Self.elasticSigma)) }
        for i in 0..<side {
            for j in 0..<side {
                let k = abs(i - j)
                gaussian[i * side + j] = k <= radius ? expf(-Float(k * k) / (2 * Self.elasticSigma * Self.elasticSigma)) / total : 0
            }
        }
    }

    /// Two fields of uniform(-1, 1) displacements, dx and dy, side by side (row y of `fields`,
    /// 2 side wide, is dx's row y then dy's), each smoothed by the Gaussian as G F G and scaled
    /// by `elasticScale`: two small products for both, where a loop over the kernel cost five
    /// times the step. G F for both at once is G (side, side) [dx dy] (side, 2 side); the rows
    /// of the result, read as 2 side rows of side, are each multiplied by G on the right.
    private func smoothFields(_ fields: UnsafeMutablePointer<Float>, _ draws: inout SampleDraws, temp: UnsafeMutablePointer<Float>,
                              gaussian: UnsafeMutablePointer<Float>) {
        let n = Int32(side), count = 2 * side * side
        var i = 0
        while i < count {
            let (a, b) = draws.symmetricPair()
            fields[i] = a
            fields[i + 1] = b
            i += 2
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, 2 * n, n, 1, gaussian, n, fields, 2 * n, 0, temp, 2 * n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2 * n, n, n, Self.elasticScale, temp, n, gaussian, n, 0, fields, n)
    }
}

/// Where a pixel of the distorted image is taken from: a rotation and scaling about the
/// centre, and a translation.
private struct AffineMap {
    let cosine: Float, sine: Float, scale: Float, dx: Float, dy: Float, centre: Float

    init(_ draws: inout SampleDraws, side: Int) {
        let angle = draws.symmetric(Augmentation.maxRotation)
        cosine = cosf(angle)
        sine = sinf(angle)
        scale = 1 + draws.symmetric(Augmentation.maxScaling)
        dx = draws.symmetric(Float(Augmentation.maxShift))
        dy = draws.symmetric(Float(Augmentation.maxShift))
        centre = Float(side - 1) / 2
    }

    /// The inverse map: the source of output pixel (x, y).
    func source(_ x: Int, _ y: Int) -> (Float, Float) {
        let u = (Float(x) - centre - dx) / scale, v = (Float(y) - centre - dy) / scale
        return (cosine * u + sine * v + centre, -sine * u + cosine * v + centre)
    }
}

/// SplitMix64 over (seed, epoch, a hash of the sample's pixels): a sample's draws, the same
/// wherever it is computed. No allocation, so the step loop allocates nothing.
struct SampleDraws {
    var state: UInt64

    init(seed: UInt64, epoch: Int, image: UnsafePointer<Float>, count: Int) {
        // FNV-1a over the pixels' bits: the sample's identity, which every holder of it has.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in 0..<count {
            hash = (hash ^ UInt64(image[i].bitPattern)) &* 0x0000_0100_0000_01B3
        }
        state = seed
        state = next() ^ hash
        state = next() ^ UInt64(truncatingIfNeeded: epoch)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-limit, limit).
    mutating func symmetric(_ limit: Float) -> Float { (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * limit }

    /// Four uniform draws in [0, 1) on a grid of 1/65536 from one number, for dropout's many.
    mutating func quarters() -> (Float, Float, Float, Float) {
        let bits = next(), scale = 1 / Float(1 << 16)
        return (Float(bits & 0xFFFF) * scale, Float((bits >> 16) & 0xFFFF) * scale, Float((bits >> 32) & 0xFFFF) * scale, Float(bits >> 48) * scale)
    }

    /// Two uniform draws in [-1, 1) from one number, for the fields' many.
    mutating func symmetricPair() -> (Float, Float) {
        let bits = next()
        return (Float(bits >> 40) / Float(1 << 24) * 2 - 1, Float((bits >> 8) & 0xFF_FFFF) / Float(1 << 24) * 2 - 1)
    }

    /// Uniform among -limit...limit.
    mutating func integer(_ limit: Int) -> Int { Int(next() % UInt64(2 * limit + 1)) - limit }
}
