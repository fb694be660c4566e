// Unaligned eight-float loads and stores for the elementwise loops of the step.
// LLVM does not vectorise those loops by itself: it cannot prove the buffers
// do not alias, and leaves a branch per element for ReLU.

typealias Floats8 = SIMD8<Float>

@inline(__always) func load8(_ pointer: UnsafePointer<Float>) -> Floats8 {
    UnsafeRawPointer(pointer).loadUnaligned(as: Floats8.self)
}

@inline(__always) func load8(_ pointer: UnsafeMutablePointer<Float>) -> Floats8 {
    UnsafeRawPointer(pointer).loadUnaligned(as: Floats8.self)
}

@inline(__always) func store8(_ value: Floats8, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Floats8.self)
}

/// True when no value is NaN or infinite, checking eight at a time.
public func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
    guard let base = values.baseAddress else { return true }
    let exponent = SIMD8<UInt32>(repeating: 0x7F80_0000)
    let count = values.count
    var i = 0
    while i + 8 <= count {
        // NaN and infinity are the values whose exponent bits are all ones.
        let bits = unsafeBitCast(load8(base + i), to: SIMD8<UInt32>.self)
        if any((bits & exponent) .== exponent) { return false }
        i += 8
    }
    while i < count {
        if !base[i].isFinite { return false }
        i += 1
    }
    return true
}
