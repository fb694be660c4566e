import CKernels

/// The fixed-point form in which gradients are summed, so that the sum is exact and the
/// order and grouping of the additions cannot change a bit of it: each chunk's float
/// gradient is rounded once (half to even) to a whole number of 2^-fractionBits units,
/// and those integers are added as int64s. One worker or eight, chunks summed in any
/// order, give the same integers; only the conversion back to float rounds again, once.
public struct FixedPointFormat: Codable, Equatable, Sendable {
    /// A value v is stored as round(v * 2^fractionBits).
    public let fractionBits: Int
    /// The largest magnitude one chunk's value may have, in units: `chunkBound` on the fine
    /// grid, and on the coarse one as many units as hold the same gradient, so that a bf16 run
    /// is stopped as diverged where a float32 one is (not 2^24 times later).
    public let chunkLimit: UInt64

    /// The largest magnitude one chunk's value may have on any grid, in units: the rounding
    /// trick in the C kernel is exact below 2^51. A chunk beyond it has diverged.
    public static let chunkBound: UInt64 = 1 << 51
    /// The most chunks one sum adds: with each below 2^51, any sum stays below 2^59, far from
    /// int64's end, whatever the grouping.
    public static let maxChunks = 256
    /// The largest per-sample gradient element the format leaves room for, as a power of two:
    /// beyond 2^10 a sample's gradient has diverged anyway.
    static let perSampleBits = 10

    /// How much coarser the grid of a run that halves its messages (`--wire-precision bf16`) is
    /// than the fine one: 24 bits, so that the sums a converging run keeps in 5 bytes a value
    /// on the fine grid fit 2, and its gradients travel in half a float32's bytes as its weights
    /// do. A grid this much coarser costs no accuracy a run can tell apart, where a much coarser
    /// one does (docs/performance.md, "bf16 on the wire"), so 24 leaves room on both sides.
    public static let coarseGridBits = 24

    /// The format for chunks of at most `largestChunk` samples: as fine as the bound allows,
    /// so that a chunk's sum of `largestChunk` per-sample gradients of up to 2^10 fits; or,
    /// `coarse`, `coarseGridBits` coarser than that.
    public init(largestChunk: Int, coarse: Bool = false) {
        precondition(largestChunk > 0)
        let chunkBits = Int.bitWidth - (largestChunk - 1).leadingZeroBitCount   // ceil(log2(largestChunk))
        let fine = min(max(51 - Self.perSampleBits - chunkBits, 8), 40)
        fractionBits = coarse ? fine - Self.coarseGridBits : fine
        chunkLimit = coarse ? Self.chunkBound >> Self.coarseGridBits : Self.chunkBound
    }

    /// The largest magnitude one chunk's gradient element may have, as a float.
    public var chunkLimitValue: Float { Float(chunkLimit) / Float(scale) }

    /// 2^fractionBits (the coarse grid's can be below 1: its units are then whole numbers above 1).
    public var scale: Double { Double(sign: .plus, exponent: fractionBits, significand: 1) }
}

/// An exact gradient sum: P int64s in the `FixedPointFormat`, reused from step to step.
public struct FixedPointSum {
    public let format: FixedPointFormat
    /// The sums, little-endian int64s (the wire's form on every host dptrain runs on).
    public private(set) var values: [Int64]
    /// Every bit of the values that differs from its sign, when the last change was a chunk's
    /// add (which sees each value last): the packed width without another pass.
    private var signBits: UInt64?

    public init(format: FixedPointFormat, count: Int) {
        self.format = format
        values = [Int64](repeating: 0, count: count)
        signBits = 0
    }

    public mutating func reset() {
        values.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        signBits = 0
    }

    /// Adds one chunk's float gradient, rounded once, or, `replacing`, makes the sum that chunk's
    /// alone (a reset and an add in one pass, not two); false when some element is beyond the
    /// format's `chunkLimit` or not finite (the run has diverged), leaving the sum unusable.
    public mutating func add(chunk gradient: UnsafeBufferPointer<Float>, replacing: Bool = false) -> Bool {
        precondition(gradient.count == values.count)
        let format = format
        return withValues { sums in
            var bits: UInt64 = 0
            let inRange = Self.accumulate(chunk: gradient, format: format, into: sums, replacing: replacing, signBits: &bits)
            return (inRange, bits)
        }
    }

    /// `add(chunk:replacing:)` into int64 sums anywhere (a thread's own, or these through
    /// `withValues`): `signBits` gets every bit of the resulting sums that differs from its sign.
    public static func accumulate(chunk gradient: UnsafeBufferPointer<Float>, format: FixedPointFormat, into sums: UnsafeMutablePointer<Int64>,
                                  replacing: Bool, signBits: inout UInt64) -> Bool {
        dptrain_fixed_accumulate(gradient.baseAddress!, gradient.count, format.scale, Double(format.chunkLimit), sums,
                                 replacing ? 1 : 0, &signBits) == 0
    }

    /// Lets `body` write the sums in place (the threads of a process adding their chunks):
    /// it returns what it computed and every bit of the values it leaves that differs from
    /// its sign (what `dptrain_fixed_add_sums` reports), so `packedWidth` needs no pass.
    public mutating func withValues<Result>(_ body: (UnsafeMutablePointer<Int64>) -> (Result, signBits: UInt64)) -> Result {
        let (result, bits) = values.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
        signBits = bits
        return result
    }

    /// Over the values `range` only: adds `sources` (each as many aligned int64s as these) into
    /// `sums`, and returns the sign bits of the range's results, for `withValues`. Threads may
    /// share `sums`, each its own range.
    public static func add(_ sources: UnsafeBufferPointer<UnsafePointer<Int64>?>, into sums: UnsafeMutablePointer<Int64>, range: Range<Int>) -> UInt64 {
        dptrain_fixed_add_sums(sums, sources.baseAddress, sources.count, range.lowerBound, range.upperBound)
    }

    /// Whether `bytes`, little-endian integers of `width` bytes as an answer carries them, are
    /// exactly these values: verification by recomputation compares every bit. `scratch` (at
    /// least the values' count) takes them widened.
    public func equals(packed bytes: UnsafeRawBufferPointer, width: Int, scratch: UnsafeMutableBufferPointer<Int64>) -> Bool {
        guard (1...8).contains(width), bytes.count == values.count * width, scratch.count >= values.count else { return false }
        guard let source = bytes.baseAddress else { return values.isEmpty }
        let widened = UnsafeMutableBufferPointer(rebasing: scratch[0..<values.count])
        Self.fold(source, width: width, first: true, into: widened)
        return values.withUnsafeBufferPointer { $0.elementsEqual(widened) }
    }

    /// Changes the values in place, as a test's lying or miscomputing worker does to its answer.
    public mutating func rewrite(_ change: (UnsafeMutableBufferPointer<Int64>) -> Void) {
        signBits = nil
        values.withUnsafeMutableBufferPointer { change($0) }
    }

    /// Adds another sum of the same format, as it arrived: little-endian integers of `width`
    /// bytes (8: int64s; fewer: their low bytes) at any alignment. The caller has bounded it
    /// (`largestMagnitude`), so nothing wraps.
    public mutating func add(received bytes: UnsafeRawBufferPointer, width: Int = 8) {
        precondition((1...8).contains(width) && bytes.count == values.count * width)
        signBits = nil
        values.withUnsafeMutableBufferPointer { Self.fold(bytes.baseAddress!, width: width, first: false, into: $0) }
    }

    /// The largest |value| among little-endian integers of `width` bytes at any alignment: a
    /// received sum of k chunks must stay within k * `FixedPointFormat.chunkBound`.
    public static func largestMagnitude(_ bytes: UnsafeRawBufferPointer, width: Int = 8) -> UInt64 {
        precondition((1...8).contains(width))
        guard let base = bytes.baseAddress else { return 0 }
        if width == 8 { return dptrain_fixed_largest_magnitude(base, bytes.count / 8) }
        return dptrain_fixed_largest_magnitude_packed(base, bytes.count / width, Int32(width))
    }

    /// A bound on the largest |value| of a received sum of `width`-byte integers, for the check
    /// against k * `FixedPointFormat.chunkBound`: read from the values at 7 and 8 bytes; below,
    /// the width alone bounds them (under 2^47, within even one chunk's bound), and a pass over
    /// the values on the step's path is saved.
    public static func magnitudeBound(_ bytes: UnsafeRawBufferPointer, width: Int) -> UInt64 {
        if width <= 6 { return UInt64(1) << (8 * width - 1) }
        return largestMagnitude(bytes, width: width)
    }

    /// The fewest bytes a value, 1 to 8, that hold every sum: what goes on the wire. A
    /// converging run's sums need 5, 6 in its first steps (docs/performance.md, "What the same
    /// weights cost"), so a gradient crosses a socket in 5/8 of its bytes.
    public var packedWidth: Int {
        if let signBits { return Int(dptrain_fixed_width_of_bits(signBits)) }
        return values.withUnsafeBytes { Int(dptrain_fixed_width($0.baseAddress!, values.count)) }
    }

    /// The fewest bytes a value that hold every sum in `range`: a parameter server's slice.
    public func packedWidth(range: Range<Int>) -> Int {
        precondition(range.lowerBound >= 0 && range.upperBound <= values.count)
        guard !range.isEmpty else { return 1 }
        return values.withUnsafeBytes { Int(dptrain_fixed_width($0.baseAddress! + 8 * range.lowerBound, range.count)) }
    }

    /// The sums of `range` as their low `width` bytes each into `out` (range.count * width bytes).
    public func pack(range: Range<Int>, width: Int, into out: UnsafeMutableRawBufferPointer) {
        precondition((1...8).contains(width) && range.lowerBound >= 0 && range.upperBound <= values.count && out.count >= range.count * width)
        guard !range.isEmpty else { return }
        values.withUnsafeBytes { dptrain_fixed_pack($0.baseAddress! + 8 * range.lowerBound, range.count, Int32(width), out.baseAddress!) }
    }

    /// The sums as their low `width` bytes each into `out` (values.count * width bytes).
    public func pack(width: Int, into out: UnsafeMutableRawBufferPointer) {
        precondition((1...8).contains(width) && out.count >= values.count * width)
        values.withUnsafeBytes { dptrain_fixed_pack($0.baseAddress!, values.count, Int32(width), out.baseAddress!) }
    }

    /// The total of received sums as floats, over the parameters `range` only, so that threads
    /// can share one total, each its own range: `sources[i]` points at the whole of a received
    /// sum, little-endian integers of `widths[i]` bytes (1 to 8) at any alignment, each bounded
    /// by the caller (`magnitudeBound`), so nothing wraps; `sums` is room for the int64 total,
    /// which already holds the first `folded` sources (`fold`), all of it. The same floats, in the
    /// range, as adding the sums one by one and calling `floats(into:)`.
    public static func total(of sources: UnsafeBufferPointer<UnsafeRawPointer?>, widths: UnsafeBufferPointer<Int32>, folded: Int = 0,
                             range: Range<Int>, format: FixedPointFormat,
                             sums: UnsafeMutableBufferPointer<Int64>, into floats: UnsafeMutableBufferPointer<Float>) {
        precondition(sources.count == widths.count && widths.allSatisfy { (1...8).contains($0) } && sources.allSatisfy { $0 != nil })
        precondition((0...sources.count).contains(folded))
        precondition(range.lowerBound >= 0 && range.upperBound <= sums.count && sums.count == floats.count)
        guard !range.isEmpty else { return }
        dptrain_fixed_total(sources.baseAddress, widths.baseAddress, sources.count, folded, range.lowerBound, range.upperBound,
                            sums.baseAddress!, 1 / format.scale, floats.baseAddress!)
    }

    /// Adds one received sum (little-endian integers of `width` bytes, bounded by the caller) into
    /// the int64 `sums`, or, `first`, writes it there in their place: a total built answer by
    /// answer as they arrive, finished by `total(of:widths:folded:…)`.
    public static func fold(_ source: UnsafeRawPointer, width: Int, first: Bool, into sums: UnsafeMutableBufferPointer<Int64>) {
        precondition((1...8).contains(width))
        guard let base = sums.baseAddress else { return }
        dptrain_fixed_fold(source, sums.count, Int32(width), base, first ? 1 : 0)
    }

    /// Over the values `range` only: the total of `sources` (sums of this format, each as many
    /// aligned int64s as `destination` has floats) as floats into `destination`, converted as
    /// `floats(into:)` converts one sum. Threads may share `destination`, each its own range.
    public static func floats(of sources: UnsafeBufferPointer<UnsafePointer<Int64>?>, format: FixedPointFormat,
                              into destination: UnsafeMutableBufferPointer<Float>, range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= destination.count)
        guard !range.isEmpty else { return }
        dptrain_fixed_sources_to_float(sources.baseAddress, sources.count, range.lowerBound, range.upperBound, 1 / format.scale, destination.baseAddress!)
    }

    /// The sum as floats, for the optimizer: the one rounding after the exact sum.
    public func floats(into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count == values.count)
        floats(into: destination, range: 0..<values.count)
    }

    /// The same over the values `range` only (indexed from the start of both), so that threads
    /// can each convert a range.
    public func floats(into destination: UnsafeMutableBufferPointer<Float>, range: Range<Int>) {
        precondition(destination.count == values.count && range.lowerBound >= 0 && range.upperBound <= values.count)
        guard !range.isEmpty else { return }
        let inverse = 1 / format.scale
        values.withUnsafeBufferPointer {
            dptrain_fixed_to_float($0.baseAddress! + range.lowerBound, range.count, inverse, destination.baseAddress! + range.lowerBound)
        }
    }
}
