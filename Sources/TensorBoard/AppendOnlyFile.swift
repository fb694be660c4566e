import Foundation
import OutputFiles

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
    /// Told once, in a sentence, when writing starts to fail (a full disk, say), and again if it
    /// fails anew after writes went through: the lines of a failed write are lost, and a run
    /// goes on without them rather than stopping for its logs.
    public var onFailure: ((String) -> Void)?
    /// Whether the last write failed: a failure is told when it starts, not at every write.
    private var failing = false

    /// Opens `path`, created empty, or with `append` kept and written at its end; throws a
    /// `FileError` that names the errno if it cannot.
    /// Opened in place (open(2)), never replaced: a pipe or a device stays what it is. The
    /// process's own standard output or error, by any of its names, is written through that
    /// descriptor, so the lines interleave with the rest of the output instead of overwriting it.
    public init(path: String, append: Bool = false) throws {
        let standard = Self.standardStreams[path].map { dup($0) }
        let descriptor = standard ?? open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o644)
        guard descriptor >= 0 else { throw FileError(path: path, code: errno, doing: "opening") }
        self.path = path
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        pending.reserveCapacity(64 * 1024)
    }

    private static let standardStreams: [String: Int32] = [
        "/dev/stdout": 1, "/dev/fd/1": 1, "/proc/self/fd/1": 1, "/dev/stderr": 2, "/dev/fd/2": 2, "/proc/self/fd/2": 2,
    ]

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
        let failure = pending.withUnsafeBytes { bytes -> FileError? in
            do {
                try OutputFile.writeAll(bytes, to: handle.fileDescriptor, shownAs: path)
                return nil
            } catch {
                return error as? FileError
            }
        }
        pending.removeAll(keepingCapacity: true)
        if let failure, !failing {
            onFailure?("\(failure.reason) writing \(path); its lines are lost until it can be written again: \(failure.advice)")
        }
        failing = failure != nil
    }
}
