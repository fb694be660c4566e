import CZMQ
import Foundation

/// Watches a client socket's security handshakes through libzmq's socket monitor
/// (events on an inproc PAIR socket), so that a client whose key a server refuses
/// finds out at once instead of waiting in silence: libzmq reconnects quietly forever.
public final class HandshakeMonitor {
    /// Why a handshake failed, as libzmq reports it.
    public enum Failure: Equatable, Sendable {
        /// The server's ZAP handler refused this client's key (its status code, 400 for "not authorized").
        case refused(status: UInt32)
        /// The server does not speak the same security mechanism (e.g. plaintext against CURVE).
        case mechanismMismatch
        /// A ZMTP/CURVE protocol error (its ZMQ_PROTOCOL_ERROR_* code).
        case protocolError(UInt32)
        /// The server closed the connection mid-handshake without a word: what a CURVE client
        /// sees when the server's key is not the one it was given (the server cannot read its hello).
        case closedDuringHandshake
    }

    private let monitored: Socket
    private let pair: Socket
    private let event = Message(maxFrames: 2)
    /// Handshakes closed without a word since the last success: one may be a server that
    /// stopped mid-handshake, several in a row are a server that cannot read this client.
    private var closedInARow = 0
    /// Whether a transport connection is up now, and whether a handshake on it has succeeded:
    /// what a waiting client can say about its server.
    public private(set) var isConnected = false
    public private(set) var handshakeSucceeded = false
    public static let closedHandshakesMeaningFailure = 3

    public init(_ socket: Socket) throws {
        let address = "inproc://dptrain-handshake-monitor-\(UUID().uuidString)"
        let events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
            | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
        try check(zmq_socket_monitor(socket.handle, address, Int32(events)), "monitor a socket on \(address)")
        monitored = socket
        pair = try Socket(socket.context, .pair, lingerMilliseconds: 0)
        try pair.connect(address)
    }

    deinit {
        _ = zmq_socket_monitor(monitored.handle, nil, 0)
    }

    /// The first failure among the events reported since the last call, without waiting;
    /// nil when every handshake so far succeeded or none has ended yet. A handshake closed
    /// without a word counts only as the `closedHandshakesMeaningFailure`th in a row.
    public func failure() throws -> Failure? {
        var found: Failure?
        while try pair.receive(into: event, .dontWait) {
            // Frame 1: the event (UInt16) and its value (UInt32), little-endian on every platform libzmq runs on; frame 2: the endpoint.
            guard event.count == 2, event[0].count == 6 else { continue }
            let bytes = event[0]
            let kind = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
            let value = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[2 + $1]) << (8 * UInt32($1)) }
            switch Int32(kind) {
            case ZMQ_EVENT_CONNECTED:
                isConnected = true
            case ZMQ_EVENT_DISCONNECTED:
                isConnected = false
                handshakeSucceeded = false
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
                closedInARow = 0
                handshakeSucceeded = true
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
                found = found ?? .refused(status: value)
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
                found = found ?? (value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) ? .mechanismMismatch : .protocolError(value))
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                closedInARow += 1
                if closedInARow >= HandshakeMonitor.closedHandshakesMeaningFailure { found = found ?? .closedDuringHandshake }
            default:
                break
            }
        }
        return found
    }
}
