import CZMQ

/// A frame filled once and sent to many peers without another copy: each send
/// shares libzmq's buffer by reference count (zmq_msg_copy), which frees it
/// when the last peer's copy has left. The coordinator's weight broadcast costs
/// one copy of the weights per step, however many workers there are.
public final class SharedFrame {
    private var message = zmq_msg_t()

    /// Copies `bytes` into a new libzmq buffer.
    public init(copying bytes: UnsafeRawBufferPointer) throws {
        _ = try check(zmq_msg_init_size(&message, bytes.count), "allocate a \(bytes.count)-byte frame")
        if let source = bytes.baseAddress, bytes.count > 0 {
            zmq_msg_data(&message).copyMemory(from: source, byteCount: bytes.count)
        }
    }

    /// A new `count`-byte libzmq buffer that `fill` writes: a frame built in place, with no copy.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) throws {
        _ = try check(zmq_msg_init_size(&message, count), "allocate a \(count)-byte frame")
        fill(UnsafeMutableRawBufferPointer(start: zmq_msg_data(&message), count: count))
    }

    deinit { zmq_msg_close(&message) }

    public var count: Int { zmq_msg_size(&message) }

    /// A new reference to the buffer, for one send; libzmq owns it afterwards.
    fileprivate func reference(into target: inout zmq_msg_t) throws {
        _ = try check(zmq_msg_init(&target), "start a frame")
        _ = try check(zmq_msg_copy(&target, &message), "share a frame")
    }
}

extension Socket {
    /// Sends three copied frames (a routing id, a header, a meta frame, say), then `shared`
    /// as the last frame, uncopied; nothing is allocated.
    @discardableResult
    public func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, _ third: UnsafeRawBufferPointer,
                     then shared: SharedFrame, _ blocking: Blocking = .wait) throws -> Bool {
        guard try sendFrame(first, index: 0, of: 4, blocking, moreAfter: true) else { return false }
        _ = try sendFrame(second, index: 1, of: 4, blocking, moreAfter: true)
        _ = try sendFrame(third, index: 2, of: 4, blocking, moreAfter: true)
        try sendLast(shared, index: 3, of: 4, blocking)
        return true
    }

    /// Sends two copied frames (a header and a meta frame, say), then `shared` as the last
    /// frame, uncopied.
    @discardableResult
    public func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
                     then shared: SharedFrame, _ blocking: Blocking = .wait) throws -> Bool {
        guard try sendFrame(first, index: 0, of: 3, blocking, moreAfter: true) else { return false }
        _ = try sendFrame(second, index: 1, of: 3, blocking, moreAfter: true)
        try sendLast(shared, index: 2, of: 3, blocking)
        return true
    }

    /// The message's last frame, a new reference to `shared`'s buffer. Once the first frame is
    /// queued libzmq accepts the rest, so an interrupted send is retried.
    private func sendLast(_ shared: SharedFrame, index: Int, of total: Int, _ blocking: Blocking) throws {
        var last = zmq_msg_t()
        try shared.reference(into: &last)
        while zmq_msg_send(&last, handle, blocking.flag) == -1 {
            let error = ZMQError.last("send frame \(index + 1) of \(total) (\(shared.count) bytes)")
            if error.isInterrupted { continue }
            zmq_msg_close(&last)
            throw error
        }
    }
}
