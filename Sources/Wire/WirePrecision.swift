import CKernels

/// How the weights travel in a step's bulk frame (gradients are exact fixed-point sums whatever
/// the precision; the precision picks their grid, `FixedPointFormat(largestChunk:precision:)`).
/// The coordinator picks it for the run and tells each worker in its welcome; both ends
/// compute and keep state in float32 whatever the wire carries.
///
/// Everything that depends on the number format of the bulk frames is in this file
/// (and `Coordinator+WirePrecision.swift`), so that a
/// new format is added in these places alone.
public enum WirePrecision: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE float32, little-endian: the values exactly.
    case float32
    /// bfloat16, little-endian: the top half of each float32, rounded to nearest with
    /// ties to even. Half the bytes; 8 bits of mantissa.
    case bf16

    public var bytesPerValue: Int {
        switch self {
        case .float32: 4
        case .bf16: 2
        }
    }

    public var description: String { rawValue }

    /// Writes `values` in this precision into `bulk`, which must hold `values.count * bytesPerValue` bytes.
    public func encode(_ values: UnsafeBufferPointer<Float>, into bulk: UnsafeMutableRawBufferPointer) {
        precondition(bulk.count == values.count * bytesPerValue, "\(values.count) values need \(values.count * bytesPerValue) bytes, got \(bulk.count)")
        guard let source = values.baseAddress, let destination = bulk.baseAddress else { return }
        switch self {
        case .float32:
            #if _endian(little)
            destination.copyMemory(from: source, byteCount: bulk.count)
            #else
            for (index, value) in values.enumerated() { bulk.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * index, as: UInt32.self) }
            #endif
        case .bf16:
            dptrain_float_to_bf16(source, values.count, destination.assumingMemoryBound(to: UInt16.self))
        }
    }
}

/// A bulk frame of weights or gradients as received, in the run's precision, read in
/// place: no copy, no allocation. Valid only while the frame's buffer is.
public struct WireFloats: RandomAccessCollection {
    /// The frame's bytes, `count * precision.bytesPerValue` of them, at any alignment.
    public let bytes: UnsafeRawBufferPointer
    public let precision: WirePrecision

    init(_ bytes: UnsafeRawBufferPointer, precision: WirePrecision) {
        precondition(bytes.count % precision.bytesPerValue == 0, "a \(precision) array is whole values")
        self.bytes = bytes
        self.precision = precision
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { bytes.count / precision.bytesPerValue }

    public subscript(index: Int) -> Float {
        precondition(index >= 0 && index < endIndex, "index \(index) of \(endIndex)")
        switch precision {
        case .float32: return float32[index]
        case .bf16: return Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))) << 16)
        }
    }

    /// The values as float32, when the frame carries float32.
    public var float32: WireArray<Float> { WireArray(bytes) }

    /// The float32 values in place, when the frame carries float32 and is aligned for them
    /// (libzmq's buffers are malloc-aligned): a worker computes on them without a copy.
    public var alignedFloat32: UnsafePointer<Float>? {
        guard precision == .float32, let base = bytes.baseAddress,
              Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return base.assumingMemoryBound(to: Float.self)
    }

    /// Copies the values, widened to float32, into `destination`, which must hold exactly `count`.
    public func copy(into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count == count, "copying \(count) values into room for \(destination.count)")
        switch precision {
        case .float32: float32.copy(into: destination)
        case .bf16: if let source = bytes.baseAddress { dptrain_bf16_to_float(source, count, destination.baseAddress!) }
        }
    }

    /// The index of the first NaN or infinity.
    func firstNonFinite() -> Int? {
        switch precision {
        case .float32: return float32.firstNonFinite()
        case .bf16:
            guard let source = bytes.baseAddress else { return nil }
            let index = dptrain_bf16_first_non_finite(source, count)
            return index < count ? index : nil
        }
    }
}

extension WirePrecision {
    /// `values` as a receiver of them in this precision computes on: through the wire's format
    /// and back (a bf16 run's workers compute on weights rounded to bf16). `scratch` holds the
    /// encoded bytes, `count * bytesPerValue` of them.
    public func roundTrip(_ values: UnsafeBufferPointer<Float>, scratch: UnsafeMutableRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        let encoded = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<(values.count * bytesPerValue)])
        encode(values, into: encoded)
        WireFloats(UnsafeRawBufferPointer(encoded), precision: self).copy(into: out)
    }
}
