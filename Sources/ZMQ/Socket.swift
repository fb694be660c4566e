import CZMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket patterns dptrain uses, and a few more.
public enum SocketType: Int32, Sendable {
    case pair = 0     // ZMQ_PAIR
    case pub = 1      // ZMQ_PUB
    case sub = 2      // ZMQ_SUB
    case req = 3      // ZMQ_REQ
    case rep = 4      // ZMQ_REP
    case dealer = 5   // ZMQ_DEALER
    case router = 6   // ZMQ_ROUTER
    case pull = 7     // ZMQ_PULL
    case push = 8     // ZMQ_PUSH
}

/// Whether a send or receive may wait.
public enum Blocking: Sendable {
    /// Wait, up to the socket's sndtimeo/rcvtimeo (forever by default).
    case wait
    /// Return at once if the call cannot complete now (ZMQ_DONTWAIT).
    case dontWait

    var flag: Int32 { self == .wait ? 0 : ZMQ_DONTWAIT }
}

/// A libzmq socket, owned: closed in deinit. Not thread-safe (libzmq sockets
/// are not), so use each from one thread at a time.
public final class Socket {
    /// Linger given to every new socket, in milliseconds: pending outgoing
    /// messages get this long to leave after close, and no longer, so that
    /// closing never hangs on a peer that is gone (libzmq's default is forever).
    public static let defaultLingerMilliseconds: Int32 = 100

    let handle: UnsafeMutableRawPointer
    public let type: SocketType
    // Keeps the context alive until this socket is closed: zmq_ctx_term waits for its sockets.
    let context: Context
    /// A CURVE server's authenticator lives as long as its socket: without one libzmq admits every key.
    var authenticator: Authenticator?

    public init(_ context: Context, _ type: SocketType,
                lingerMilliseconds: Int32 = Socket.defaultLingerMilliseconds) throws {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.last("create \(type) socket")
        }
        self.handle = handle
        self.type = type
        self.context = context
        try set(.linger, Int(lingerMilliseconds))
    }

    deinit {
        zmq_close(handle)
    }

    public func bind(_ endpoint: String) throws {
        try check(zmq_bind(handle, endpoint), "bind \(endpoint)")
    }

    public func connect(_ endpoint: String) throws {
        try check(zmq_connect(handle, endpoint), "connect \(endpoint)")
    }

    public func disconnect(_ endpoint: String) throws {
        try check(zmq_disconnect(handle, endpoint), "disconnect \(endpoint)")
    }

    public func unbind(_ endpoint: String) throws {
        try check(zmq_unbind(handle, endpoint), "unbind \(endpoint)")
    }

    /// The endpoint last bound or connected, with a wildcard port resolved:
    /// bind "tcp://127.0.0.1:*", then read the port here.
    public func lastEndpoint() throws -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        try check(zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size), "get last endpoint")
        return String(cString: buffer)
    }

    // MARK: Sending

    /// Sends one multipart message, each frame copied once, straight from the
    /// caller's memory into libzmq (a 400 KB parameter buffer needs no
    /// intermediate Data or [UInt8]).
    ///
    /// - Returns: false when nothing was sent because the call would block:
    ///   `.dontWait` and the queue is full (high-water mark), or sndtimeo expired.
    /// - Throws: `ZMQError`, e.g. `isHostUnreachable` for a ROUTER with
    ///   router_mandatory and an unknown routing id, `isInterrupted` on a signal
    ///   before the first frame left.
    @discardableResult
    public func send(_ frames: [UnsafeRawBufferPointer], _ blocking: Blocking = .wait) throws -> Bool {
        precondition(!frames.isEmpty, "a message has at least one frame")
        for (index, frame) in frames.enumerated() {
            guard try sendFrame(frame, index: index, of: frames.count, blocking) else { return false }
        }
        return true
    }

    /// Sends a message of three frames, as `send(_:_:)` does but with no array to build:
    /// for the step loop, which allocates nothing.
    @discardableResult
    public func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, _ third: UnsafeRawBufferPointer,
                     _ blocking: Blocking = .wait) throws -> Bool {
        guard try sendFrame(first, index: 0, of: 3, blocking) else { return false }
        _ = try sendFrame(second, index: 1, of: 3, blocking)
        _ = try sendFrame(third, index: 2, of: 3, blocking)
        return true
    }

    /// Sends a message of four frames (a routing id and three), with no array to build.
    @discardableResult
    public func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, _ third: UnsafeRawBufferPointer,
                     _ fourth: UnsafeRawBufferPointer, _ blocking: Blocking = .wait) throws -> Bool {
        guard try sendFrame(first, index: 0, of: 4, blocking) else { return false }
        _ = try sendFrame(second, index: 1, of: 4, blocking)
        _ = try sendFrame(third, index: 2, of: 4, blocking)
        _ = try sendFrame(fourth, index: 3, of: 4, blocking)
        return true
    }

    /// Sends frame `index` of `total`; false when the first frame would block.
    func sendFrame(_ frame: UnsafeRawBufferPointer, index: Int, of total: Int, _ blocking: Blocking, moreAfter: Bool? = nil) throws -> Bool {
        let more = (moreAfter ?? (index < total - 1)) ? ZMQ_SNDMORE : 0
        while zmq_send(handle, frame.baseAddress, frame.count, blocking.flag | more) == -1 {
            let error = ZMQError.last("send frame \(index + 1) of \(total) (\(frame.count) bytes)")
            // Once the first frame is queued libzmq accepts the rest of the message
            // (delivery is atomic), so only the first frame may report "would block";
            // a signal after it must not leave half a message queued, so retry.
            if index == 0 && error.isWouldBlock { return false }
            if index > 0 && error.isInterrupted { continue }
            throw error
        }
        return true
    }

    /// Sends frames given as byte arrays; for small control messages and tests.
    @discardableResult
    public func send(copying frames: [[UInt8]], _ blocking: Blocking = .wait) throws -> Bool {
        func nest(_ index: Int, _ pointers: inout [UnsafeRawBufferPointer]) throws -> Bool {
            if index == frames.count { return try send(pointers, blocking) }
            return try frames[index].withUnsafeBytes { bytes in
                pointers.append(bytes)
                defer { pointers.removeLast() }
                return try nest(index + 1, &pointers)
            }
        }
        var pointers: [UnsafeRawBufferPointer] = []
        return try nest(0, &pointers)
    }

    // MARK: Receiving

    /// Receives one multipart message into `message`, replacing what it held.
    ///
    /// - Returns: false on a timeout (rcvtimeo expired) or, with `.dontWait`,
    ///   when no message is waiting; `message` is then empty.
    /// - Throws: `ZMQError`; `isInterrupted` when a signal arrived before a message did.
    public func receive(into message: Message, _ blocking: Blocking = .wait) throws -> Bool {
        message.reset()
        var more = true
        while more {
            let part = message.nextPart()
            // All frames of a message arrive together, so only the first can time out;
            // the rest are read without waiting.
            let flags = message.receivedFrames == 0 ? blocking.flag : ZMQ_DONTWAIT
            if zmq_msg_recv(part, handle, flags) == -1 {
                // Nothing waiting is the common case of a loop that drains the socket: no error to build.
                if message.receivedFrames == 0 && zmq_errno() == EAGAIN { return false }
                let error = ZMQError.last("receive frame \(message.receivedFrames + 1)")
                if message.receivedFrames > 0 && error.isInterrupted { continue }
                message.reset()
                throw error
            }
            more = zmq_msg_more(part) != 0
            message.commitPart()
        }
        return true
    }

    /// Receives one multipart message into a new `Message`; nil on timeout.
    public func receive(maxFrames: Int = Message.defaultMaxFrames, _ blocking: Blocking = .wait) throws -> Message? {
        let message = Message(maxFrames: maxFrames)
        return try receive(into: message, blocking) ? message : nil
    }
}
