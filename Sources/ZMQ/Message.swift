import CZMQ

/// A received multipart message, reusable from one receive to the next.
///
/// Each frame's bytes stay in libzmq's buffer (a zmq_msg_t) and are exposed
/// as an `UnsafeRawBufferPointer` without a copy. Those pointers are valid
/// until the next receive into this message, `release()`, or its deinit: copy
/// out what must outlive them, and keep the message alive while reading.
///
/// At most `maxFrames` frames are kept. A peer that sends more cannot make
/// the receiver hold them: the rest are read, released at once and counted in
/// `droppedFrames`, so the caller can reject the message.
public final class Message: RandomAccessCollection {
    public static let defaultMaxFrames = 8

    public let maxFrames: Int
    /// Frames beyond `maxFrames` in the last message received, already released.
    public private(set) var droppedFrames = 0
    /// The frames kept.
    public private(set) var count = 0

    // `maxFrames` zmq_msg_t slots plus one scratch slot for dropped frames. They
    // live at fixed addresses because libzmq keeps pointers into a zmq_msg_t.
    private let parts: UnsafeMutablePointer<zmq_msg_t>

    public init(maxFrames: Int = Message.defaultMaxFrames) {
        precondition(maxFrames > 0, "a message keeps at least one frame")
        self.maxFrames = maxFrames
        parts = .allocate(capacity: maxFrames + 1)
        for index in 0...maxFrames { zmq_msg_init(parts + index) }
    }

    deinit {
        for index in 0...maxFrames { zmq_msg_close(parts + index) }
        parts.deallocate()
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// The bytes of frame `index`, without a copy; see the type's note on lifetime.
    public subscript(index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "frame \(index) of a message of \(count)")
        let part = parts + index
        return UnsafeRawBufferPointer(start: zmq_msg_data(part), count: zmq_msg_size(part))
    }

    /// The frames from `first` on as a buffer of their bytes, for a decoder that takes one: the
    /// buffer lives on the stack, so handing a message on allocates nothing (a generic decoder
    /// called with the message itself runs unspecialised across modules, and allocates).
    public func withFrames<R>(from first: Int = 0, _ body: (UnsafeBufferPointer<UnsafeRawBufferPointer>) throws -> R) rethrows -> R {
        let kept = Swift.max(count - first, 0)
        return try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: Swift.max(kept, 1)) { buffer in
            for index in 0..<kept { buffer.initializeElement(at: index, to: self[first + index]) }
            return try body(UnsafeBufferPointer(start: buffer.baseAddress, count: kept))
        }
    }

    /// True when the sender sent more frames than `maxFrames`.
    public var isTruncated: Bool { droppedFrames > 0 }

    /// Every frame sent, kept or dropped.
    public var receivedFrames: Int { count + droppedFrames }

    /// The bytes of every kept frame together.
    public var byteCount: Int { reduce(0) { $0 + $1.count } }

    /// A property libzmq attached to the frame at `index` when it arrived, such as
    /// "Peer-Address" (the sender's IP address, over tcp); nil where there is none.
    public func property(_ name: String, frame index: Int) -> String? {
        guard index >= 0 && index < count, let value = zmq_msg_gets(parts + index, name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// Frees the frames' buffers now (a large shard need not wait for the next receive).
    public func release() {
        reset()
    }

    // MARK: Used by Socket.receive

    func reset() {
        for index in 0..<count {
            zmq_msg_close(parts + index)
            zmq_msg_init(parts + index)
        }
        count = 0
        droppedFrames = 0
    }

    /// The slot the next frame is received into.
    func nextPart() -> UnsafeMutablePointer<zmq_msg_t> {
        parts + Swift.min(count, maxFrames)
    }

    /// Accounts for the frame just received into `nextPart()`.
    func commitPart() {
        if count < maxFrames {
            count += 1
        } else {
            droppedFrames += 1
            let scratch = parts + maxFrames
            zmq_msg_close(scratch)
            zmq_msg_init(scratch)
        }
    }
}
