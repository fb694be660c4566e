/// A same-host doorbell's byte stream (Protocol.swift): messages one after another, each
///
///     u32 length     bytes that follow, the frame lengths and frames together
///     3 x (u32 n, n bytes)   header, meta, bulk (always empty: a pipe message's bulk is in
///                            shared memory)
///
/// The writer puts a whole message in ONE write of at most `messageBytes`: on a pipe such a
/// write is atomic (POSIX's PIPE_BUF), so the reader never sees two writers' bytes interleaved
/// and a message is whole or absent. What arrives is still checked as hostile: a length that
/// cannot be right makes the stream unreadable from there on (`PipeFramingError`), and a whole
/// message's frames go to the same decoder as a socket's.
public enum PipeFraming {
    /// The most bytes of one framed message: Linux's PIPE_BUF, below which a write is atomic.
    public static let messageBytes = 4096
    /// The length word and the three frame lengths.
    static let overheadBytes = 4 + 4 * framesPerMessage

    /// Frames `header` and `meta` (bulk empty) into `buffer`; the bytes to write in one call,
    /// or nil when the message is larger than `messageBytes` (it goes over the socket).
    public static func frame(header: UnsafeRawBufferPointer, meta: UnsafeRawBufferPointer,
                             into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let total = overheadBytes + header.count + meta.count
        guard total <= messageBytes, total <= buffer.count else { return nil }
        var offset = 0
        func put(_ value: UInt32) {
            buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
            offset += 4
        }
        func put(_ frame: UnsafeRawBufferPointer) {
            put(UInt32(frame.count))
            if let base = frame.baseAddress, frame.count > 0 {
                (buffer.baseAddress! + offset).copyMemory(from: base, byteCount: frame.count)
            }
            offset += frame.count
        }
        put(UInt32(total - 4))
        put(header)
        put(meta)
        put(UInt32(0))
        return offset
    }
}

/// Why a doorbell's stream cannot be read on: it is out of step with its writer, so no later
/// byte can be trusted to start a message.
/// Why bytes from a doorbell pipe are not a message: each a drop, never a crash.
public enum PipeFramingError: Error, CustomStringConvertible, Equatable {
    case badLength(Int)
    case endsInFrameLengths
    case frameRunsPastEnd(frame: Int)
    case bytesAfterFrames(Int)
    case carriesBulk

    public var description: String {
        switch self {
        case .badLength(let length):
            return "a doorbell message of \(length) bytes: no message is under \(PipeFraming.overheadBytes - 4) or over \(PipeFraming.messageBytes - 4)"
        case .endsInFrameLengths: return "a doorbell message ends inside its frame lengths"
        case .frameRunsPastEnd(let index): return "a doorbell message's frame \(index) runs past its end"
        case .bytesAfterFrames(let count): return "a doorbell message has \(count) bytes after its frames"
        case .carriesBulk: return "a doorbell message carries a bulk frame: a pipe's bulk is in shared memory"
        }
    }
}

/// The reading end's buffer: bytes as they come, whole messages out. One read fills it with
/// whatever the pipe holds (several messages, or a part of one); `next` hands out each whole
/// message's frames, in place, and keeps a part for the next read. Allocates once.
public final class PipeReader {
    private let buffer: UnsafeMutableRawBufferPointer
    /// Bytes not handed out yet: buffer[start..<end].
    private var start = 0, end = 0

    public init() {
        // Two messages' room: a whole one can always follow the part of one kept from a read.
        buffer = .allocate(byteCount: 2 * PipeFraming.messageBytes, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Bytes read but not handed out yet.
    public var pendingBytes: Int { end - start }

    /// Lets `read` put bytes in the free space after those kept (never less than a whole
    /// message's room); `read` returns how many it put there, 0 or less for none.
    public func fill(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        if start > 0 {
            // Move the kept part to the front: at most one message's bytes.
            if end > start { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start) }
            end -= start
            start = 0
        }
        let count = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        if count > 0 { end += count }
        return count
    }

    /// Hands `body` the next whole message's three frames, which are valid during the call
    /// only; nil when no whole message is buffered.
    public func next<R>(_ body: (UnsafeBufferPointer<UnsafeRawBufferPointer>) throws -> R) throws -> R? {
        guard end - start >= 4 else { return nil }
        let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
        guard length >= PipeFraming.overheadBytes - 4, length + 4 <= PipeFraming.messageBytes else {
            throw PipeFramingError.badLength(length)
        }
        guard end - start >= 4 + length else { return nil }
        let messageEnd = start + 4 + length
        return try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: framesPerMessage) { frames in
            var offset = start + 4
            for index in 0..<framesPerMessage {
                guard messageEnd - offset >= 4 else { throw PipeFramingError.endsInFrameLengths }
                let count = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                offset += 4
                guard count <= messageEnd - offset else { throw PipeFramingError.frameRunsPastEnd(frame: index) }
                frames.initializeElement(at: index, to: UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + count]))
                offset += count
            }
            guard offset == messageEnd else { throw PipeFramingError.bytesAfterFrames(messageEnd - offset) }
            guard frames[framesPerMessage - 1].isEmpty else {
                throw PipeFramingError.carriesBulk
            }
            start = messageEnd
            return try body(UnsafeBufferPointer(frames))
        }
    }
}
