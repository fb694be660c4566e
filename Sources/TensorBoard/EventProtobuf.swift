/// The few fields of TensorBoard's `Event` and `Summary` protocol buffers that
/// scalars need, encoded by hand (tensorboard/compat/proto/event.proto and
/// summary.proto):
///
///     message Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     message Summary { repeated Value value = 1; }
///     message Value   { string tag = 1; float simple_value = 2; }
///
/// Four fields do not justify a code generator and a runtime library.
enum EventProtobuf {
    /// The first event of every file: TensorBoard checks the version string.
    static func fileVersion(wallTime: Double) -> [UInt8] {
        var event: [UInt8] = []
        appendDouble(&event, field: 1, wallTime)
        appendBytes(&event, field: 3, Array("brain.Event:2".utf8))
        return event
    }

    /// An event holding one summary of scalars, each under its tag.
    static func scalars(_ values: [(tag: String, value: Float)], step: Int64, wallTime: Double) -> [UInt8] {
        var summary: [UInt8] = []
        for (tag, value) in values {
            var entry: [UInt8] = []
            appendBytes(&entry, field: 1, Array(tag.utf8))
            appendFloat(&entry, field: 2, value)
            appendBytes(&summary, field: 1, entry)
        }
        var event: [UInt8] = []
        appendDouble(&event, field: 1, wallTime)
        appendVarintField(&event, field: 2, UInt64(bitPattern: step))
        appendBytes(&event, field: 5, summary)
        return event
    }

    // Wire types: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit.
    static func appendVarint(_ out: inout [UInt8], _ value: UInt64) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    static func appendVarintField(_ out: inout [UInt8], field: UInt64, _ value: UInt64) {
        appendVarint(&out, field << 3 | 0)
        appendVarint(&out, value)
    }

    static func appendDouble(_ out: inout [UInt8], field: UInt64, _ value: Double) {
        appendVarint(&out, field << 3 | 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendFloat(_ out: inout [UInt8], field: UInt64, _ value: Float) {
        appendVarint(&out, field << 3 | 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendBytes(_ out: inout [UInt8], field: UInt64, _ bytes: [UInt8]) {
        appendVarint(&out, field << 3 | 2)
        appendVarint(&out, UInt64(bytes.count))
        out.append(contentsOf: bytes)
    }
}
