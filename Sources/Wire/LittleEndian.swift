// Reading and writing the fixed-width little-endian fields of headers and meta frames.

/// Reads fields from the front of a meta frame, each checked against the
/// bytes left before it is read.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let type: MessageType
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer, of type: MessageType) {
        self.bytes = bytes
        self.type = type
    }

    var remaining: Int { bytes.count - offset }

    mutating func integer<T: FixedWidthInteger>(_ field: String, as: T.Type = T.self) throws -> T {
        guard remaining >= MemoryLayout<T>.size else { throw WireError.truncated(type, field: field) }
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    mutating func double(_ field: String) throws -> Double {
        Double(bitPattern: try integer(field, as: UInt64.self))
    }

    /// The next `count` bytes, in place. `count` comes off the wire: it is
    /// compared with what is left, never used to allocate.
    mutating func bytes(_ count: UInt64, _ field: String) throws -> UnsafeRawBufferPointer {
        guard count <= UInt64(remaining) else { throw WireError.truncated(type, field: field) }
        defer { offset += Int(count) }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(count)])
    }

    /// A UInt32 byte count, then that many UTF-8 bytes; the count is checked against `limit` first.
    mutating func string(_ field: String, limit: Int) throws -> String {
        let length = try integer("the length of \(field)", as: UInt32.self)
        guard length <= limit else {
            throw WireError.overLimit(field: "\(type) \(field) length", value: UInt64(length), limit: limit)
        }
        let utf8 = try bytes(UInt64(length), field)
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw WireError.invalidUTF8(field: "\(type) \(field)")
        }
        return text
    }

    /// Throws unless every byte was read.
    func finish() throws {
        if remaining != 0 { throw WireError.trailingBytes(type, count: remaining) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendLittleEndian(_ value: Double) {
        appendLittleEndian(value.bitPattern)
    }

    /// A UInt32 byte count, then the bytes.
    mutating func appendPrefixed<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        appendLittleEndian(UInt32(bytes.count))
        append(contentsOf: bytes)
    }
}
