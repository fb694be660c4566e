import CZMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An integer socket option: its libzmq number, the C type libzmq expects, and a name for errors.
public struct SocketOption: Sendable, CustomStringConvertible {
    public let rawValue: Int32
    /// libzmq takes most options as C int and a few as int64_t.
    public let isInt64: Bool
    public let description: String

    /// Any integer option libzmq has, by its ZMQ_* number.
    public init(_ rawValue: Int32, isInt64: Bool = false, name: String? = nil) {
        self.rawValue = rawValue
        self.isInt64 = isInt64
        self.description = name ?? "option \(rawValue)"
    }

    /// Milliseconds pending messages may wait to be sent after close; -1 forever.
    public static let linger = SocketOption(ZMQ_LINGER, name: "linger")
    /// Messages queued per peer before sends block or drop (0 = unlimited).
    public static let sendHighWaterMark = SocketOption(ZMQ_SNDHWM, name: "sndhwm")
    public static let receiveHighWaterMark = SocketOption(ZMQ_RCVHWM, name: "rcvhwm")
    /// Milliseconds a receive/send waits before reporting "would block"; -1 forever.
    public static let receiveTimeout = SocketOption(ZMQ_RCVTIMEO, name: "rcvtimeo")
    public static let sendTimeout = SocketOption(ZMQ_SNDTIMEO, name: "sndtimeo")
    /// ROUTER: 1 makes a send to an unknown routing id fail with EHOSTUNREACH instead of vanishing.
    public static let routerMandatory = SocketOption(ZMQ_ROUTER_MANDATORY, name: "router_mandatory")
    /// 1: queue messages only to completed connections, not to peers still connecting.
    public static let immediate = SocketOption(ZMQ_IMMEDIATE, name: "immediate")
    /// The kernel's socket buffers in bytes (SO_SNDBUF, SO_RCVBUF; capped by net.core.wmem_max/rmem_max); 0 = the OS default.
    public static let sendBufferSize = SocketOption(ZMQ_SNDBUF, name: "sndbuf")
    public static let receiveBufferSize = SocketOption(ZMQ_RCVBUF, name: "rcvbuf")
    /// Largest inbound message in bytes, all frames together; a bigger one drops the connection. -1 = no limit.
    public static let maxMessageSize = SocketOption(ZMQ_MAXMSGSIZE, isInt64: true, name: "maxmsgsize")
    /// ZMTP heartbeats: milliseconds between PINGs, how long to wait for traffic, and the TTL asked of the peer.
    public static let heartbeatInterval = SocketOption(ZMQ_HEARTBEAT_IVL, name: "heartbeat_ivl")
    public static let heartbeatTimeout = SocketOption(ZMQ_HEARTBEAT_TIMEOUT, name: "heartbeat_timeout")
    public static let heartbeatTTL = SocketOption(ZMQ_HEARTBEAT_TTL, name: "heartbeat_ttl")
    /// Milliseconds before the first reconnection attempt, and the cap of its exponential backoff (0 = no backoff).
    public static let reconnectInterval = SocketOption(ZMQ_RECONNECT_IVL, name: "reconnect_ivl")
    public static let reconnectIntervalMax = SocketOption(ZMQ_RECONNECT_IVL_MAX, name: "reconnect_ivl_max")
    /// SO_KEEPALIVE: -1 the OS default, 0 off, 1 on; and its idle time, probe count and interval in seconds.
    public static let tcpKeepalive = SocketOption(ZMQ_TCP_KEEPALIVE, name: "tcp_keepalive")
    public static let tcpKeepaliveIdle = SocketOption(ZMQ_TCP_KEEPALIVE_IDLE, name: "tcp_keepalive_idle")
    public static let tcpKeepaliveCount = SocketOption(ZMQ_TCP_KEEPALIVE_CNT, name: "tcp_keepalive_cnt")
    public static let tcpKeepaliveInterval = SocketOption(ZMQ_TCP_KEEPALIVE_INTVL, name: "tcp_keepalive_intvl")
    /// Read-only: 1 while more frames of the current message remain.
    public static let receiveMore = SocketOption(ZMQ_RCVMORE, name: "rcvmore")
}

extension Socket {
    /// Sets an integer option: `try socket.set(.receiveTimeout, 500)`.
    public func set(_ option: SocketOption, _ value: Int) throws {
        let operation = { "set \(option) \(value)" }
        if option.isInt64 {
            var wide = Int64(value)
            try check(zmq_setsockopt(handle, option.rawValue, &wide, MemoryLayout<Int64>.size), operation())
        } else {
            guard let narrow = Int32(exactly: value) else {
                throw ZMQError(code: EINVAL, operation: operation())
            }
            var copy = narrow
            try check(zmq_setsockopt(handle, option.rawValue, &copy, MemoryLayout<Int32>.size), operation())
        }
    }

    /// Reads an integer option.
    public func get(_ option: SocketOption) throws -> Int {
        if option.isInt64 {
            var wide: Int64 = 0
            var size = MemoryLayout<Int64>.size
            try check(zmq_getsockopt(handle, option.rawValue, &wide, &size), "get \(option)")
            return Int(wide)
        }
        var narrow: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try check(zmq_getsockopt(handle, option.rawValue, &narrow, &size), "get \(option)")
        return Int(narrow)
    }

    /// The identity a ROUTER peer sees as this socket's first frame (1 to 255 bytes,
    /// not starting with a zero byte); set before connect.
    public func setRoutingID(_ id: [UInt8]) throws {
        try check(zmq_setsockopt(handle, ZMQ_ROUTING_ID, id, id.count), "set routing id of \(id.count) bytes")
    }

    public func routingID() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 256)
        var size = buffer.count
        try check(zmq_getsockopt(handle, ZMQ_ROUTING_ID, &buffer, &size), "get routing id")
        return Array(buffer[..<size])
    }
}
