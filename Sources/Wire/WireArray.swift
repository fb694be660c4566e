import CKernels

/// A 4-byte value as the wire holds it: little-endian bits.
public protocol WireScalar {
    static func fromWire(_ bits: UInt32) -> Self
}

extension Float: WireScalar {
    public static func fromWire(_ bits: UInt32) -> Float { Float(bitPattern: UInt32(littleEndian: bits)) }
}

extension UInt32: WireScalar {
    public static func fromWire(_ bits: UInt32) -> UInt32 { UInt32(littleEndian: bits) }
}

/// An array of little-endian Float32 or UInt32 read in place from a received
/// frame: no copy and no allocation. Valid only while the frame's buffer is
/// (the received message it came from must stay alive and unreused).
public struct WireArray<Element: WireScalar>: RandomAccessCollection {
    /// The frame's bytes, `count * 4` of them, at any alignment.
    public let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count % 4 == 0, "a wire array is whole 4-byte values")
        self.bytes = bytes
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { bytes.count / 4 }

    public subscript(index: Int) -> Element {
        precondition(index >= 0 && index < endIndex, "index \(index) of \(endIndex)")
        return Element.fromWire(bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
    }

    /// Copies the values into `destination`, which must hold exactly `count`:
    /// the one copy out of the receive buffer (a memcpy on little-endian hosts).
    public func copy(into destination: UnsafeMutableBufferPointer<Element>) {
        precondition(destination.count == count, "copying \(count) values into room for \(destination.count)")
        #if _endian(little)
        UnsafeMutableRawBufferPointer(destination).copyMemory(from: bytes)
        #else
        for index in indices { destination[index] = self[index] }
        #endif
    }
}

extension WireArray where Element == Float {
    /// The index of the first NaN or infinity, reading only the exponent bits, in place at
    /// whatever alignment the frame has (a C loop that vectorises either way).
    func firstNonFinite() -> Int? {
        #if _endian(little)
        guard let base = bytes.baseAddress else { return nil }
        let index = dptrain_float_first_non_finite(base, count)
        return index < count ? index : nil
        #else
        let exponent: UInt32 = 0x7F80_0000
        for index in indices {
            let bits = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
            if bits & exponent == exponent { return index }
        }
        return nil
        #endif
    }

    /// The values as floats in place, when the frame is aligned for them.
    private var alignedFloats: UnsafeBufferPointer<Float>? {
        guard let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count)
    }
}
