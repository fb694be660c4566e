/// The fixed 32-byte header that starts every message; the layout is in Protocol.swift.
public struct Header: Equatable, Sendable {
    public var version: UInt16
    public var type: MessageType
    public var runID: UInt64
    public var step: UInt64
    /// Bytes in the meta and bulk frames together.
    public var payloadLength: UInt64

    public init(type: MessageType, runID: UInt64, step: UInt64, payloadLength: UInt64,
                version: UInt16 = protocolVersion) {
        self.version = version
        self.type = type
        self.runID = runID
        self.step = step
        self.payloadLength = payloadLength
    }

    /// Writes the header into the first 32 bytes of `buffer`.
    public func write(to buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Limits.headerBytes, "a header needs \(Limits.headerBytes) bytes")
        buffer.storeBytes(of: protocolMagic.littleEndian, toByteOffset: 0, as: UInt32.self)
        buffer.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
        buffer.storeBytes(of: type.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        buffer.storeBytes(of: runID.littleEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: step.littleEndian, toByteOffset: 16, as: UInt64.self)
        buffer.storeBytes(of: payloadLength.littleEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// Reads a header frame, checking its size, magic, version and type, in
    /// that order (a newer version may have types this build does not know).
    public init(parsing frame: UnsafeRawBufferPointer) throws {
        guard frame.count == Limits.headerBytes else { throw WireError.headerSize(frame.count) }
        func field<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            T(littleEndian: frame.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let magic = field(0, UInt32.self)
        guard magic == protocolMagic else { throw WireError.badMagic(magic) }
        let version = field(4, UInt16.self)
        guard version == protocolVersion else { throw WireError.unsupportedVersion(version) }
        let rawType = field(6, UInt16.self)
        guard let type = MessageType(rawValue: rawType) else { throw WireError.unknownType(rawType) }
        self.init(type: type, runID: field(8, UInt64.self), step: field(16, UInt64.self),
                  payloadLength: field(24, UInt64.self), version: version)
    }
}
