import Foundation

/// Writes a TensorBoard event file: TFRecords, each
///
///     uint64 length, uint32 masked CRC-32C of the length, the bytes, uint32 masked CRC-32C of the bytes
///
/// (little-endian), around `Event` protocol buffers. The file is named as
/// TensorBoard's own writers name theirs, `events.out.tfevents.TIME.HOST.PID`,
/// so that `tensorboard --logdir DIR` finds it. Records reach the disk within a
/// second (`AppendOnlyFile`), at once when asked.
public final class EventFileWriter {
    public var path: String { file.path }
    private let file: AppendOnlyFile
    /// Told in a sentence when the file cannot be written (`AppendOnlyFile.onFailure`).
    public var onWriteFailure: ((String) -> Void)? {
        get { file.onFailure }
        set { file.onFailure = newValue }
    }

    /// Creates `directory` if needed and a new event file in it.
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EventFileError(path: directory, reason: "cannot create the folder")
        }
        let host = ProcessInfo.processInfo.hostName
        let path = (directory as NSString).appendingPathComponent("events.out.tfevents.\(Int(wallTime)).\(host).\(getpid())")
        file = try AppendOnlyFile(path: path)
        file.append(Self.framed(EventProtobuf.fileVersion(wallTime: wallTime)), now: true)
    }

    /// One event with `values` at `step`, each under its tag; on disk within a second, or at once with `now`.
    public func write(_ values: [(tag: String, value: Double)], step: Int, wallTime: Double = Date().timeIntervalSince1970, now: Bool = false) {
        guard !values.isEmpty else { return }
        file.append(Self.framed(EventProtobuf.scalars(values.map { ($0.tag, Float($0.value)) }, step: Int64(step), wallTime: wallTime)), now: now)
    }

    /// Writes what waits in the buffer.
    public func flush() { file.flush() }

    /// A record in TFRecord's framing.
    static func framed(_ record: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(record.count + 16)
        let length = withUnsafeBytes(of: UInt64(record.count).littleEndian, Array.init)
        out += length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { out.append(contentsOf: $0) }
        out += record
        withUnsafeBytes(of: CRC32C.masked(record).littleEndian) { out.append(contentsOf: $0) }
        return out
    }
}

public struct EventFileError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason) for TensorBoard's event files; check that the path is a writable folder" }
}
