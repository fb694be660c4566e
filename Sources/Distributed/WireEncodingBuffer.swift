import Wire

/// Float32 values as the run's wire precision, for a bulk frame: float32 goes out straight
/// from the values' own storage; a narrower format is written into a buffer reused from
/// step to step, so that sending allocates nothing.
struct WireEncodingBuffer {
    private var bytes: [UInt8] = []

    mutating func withEncoded<R>(_ values: [Float], _ precision: WirePrecision,
                                 _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if precision == .float32 { return try values.withUnsafeBytes(body) }
        let count = values.count * precision.bytesPerValue
        if bytes.count != count { bytes = [UInt8](repeating: 0, count: count) }
        bytes.withUnsafeMutableBytes { bulk in values.withUnsafeBufferPointer { precision.encode($0, into: bulk) } }
        return try bytes.withUnsafeBytes(body)
    }
}
