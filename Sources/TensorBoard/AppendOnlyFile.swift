import Foundation

/// A file written at its end through a buffer that goes to disk at least once a
/// second, and at once when asked: a run's logs lose at most the last second
/// of routine lines when the process is killed, and each write's system call is
/// paid once a second rather than once a line. (TensorBoard's own writers flush
/// every two minutes.) The metrics file uses it too.
public final class AppendOnlyFile {
    public let path: String
    private let handle: FileHandle
    private var pending: [UInt8] = []
    private var lastFlush = DispatchTime.now().uptimeNanoseconds
    /// Nanoseconds a routine line may wait in the buffer.
    public static let flushInterval: UInt64 = 1_000_000_000

    /// Opens `path`, created empty, or with `append` kept and written at its end; nil if it cannot.
    public init?(path: String, append: Bool = false) {
        let keep = append && FileManager.default.fileExists(atPath: path)
        guard keep || FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else { return nil }
        if keep { handle.seekToEndOfFile() }
        self.path = path
        self.handle = handle
        pending.reserveCapacity(64 * 1024)
    }

    deinit {
        flush()
        try? handle.close()
    }

    /// Adds `bytes`; writes the buffer now if `now` or if it is a second old.
    public func append<Bytes: Sequence<UInt8>>(_ bytes: Bytes, now: Bool) {
        pending.append(contentsOf: bytes)
        if now || DispatchTime.now().uptimeNanoseconds - lastFlush >= Self.flushInterval { flush() }
    }

    /// Writes what the buffer holds, straight to the descriptor.
    public func flush() {
        lastFlush = DispatchTime.now().uptimeNanoseconds
        pending.withUnsafeBytes { bytes in
            var rest = bytes
            while !rest.isEmpty {
                let written = Foundation.write(handle.fileDescriptor, rest.baseAddress, rest.count)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                rest = UnsafeRawBufferPointer(rebasing: rest[written...])
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}
