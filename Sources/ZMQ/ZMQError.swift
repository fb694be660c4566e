import CZMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by libzmq: the errno it set, zmq_strerror's text for it,
/// and the operation that failed, e.g. "bind tcp://127.0.0.1:5555: Address already in use".
///
/// Environment errors are thrown and a caller can tell the ones it must
/// handle (`isWouldBlock`, `isInterrupted`, `isTerminated`, `isHostUnreachable`)
/// from the ones it can only report. Programmer errors (EFAULT, ENOTSOCK: a
/// closed or bogus socket handle) trap instead, as swift-nio does.
public struct ZMQError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The errno value libzmq reported (POSIX, or one of libzmq's own such as ETERM).
    public let code: Int32
    /// What was being done, with its argument: "bind tcp://127.0.0.1:5555".
    public let operation: String
    /// zmq_strerror's text for `code`.
    public let reason: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
        self.reason = String(cString: zmq_strerror(code))
    }

    public var description: String { "\(operation): \(reason)" }

    /// EAGAIN: a non-blocking call found nothing to do, or a timeout (rcvtimeo/sndtimeo) expired.
    public var isWouldBlock: Bool { code == EAGAIN }
    /// EINTR: a signal arrived while blocked; retry or check a stop flag.
    public var isInterrupted: Bool { code == EINTR }
    /// ETERM: the context was terminated or shut down; the socket should be closed.
    public var isTerminated: Bool { code == ETERM }
    /// EHOSTUNREACH: a ROUTER with router_mandatory has no peer with that routing id.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }

    /// The error libzmq just set, for `operation`. Traps on errors that only a bug can cause.
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        let code = zmq_errno()
        precondition(code != EFAULT && code != ENOTSOCK,
                     "libzmq: \(operation()): \(String(cString: zmq_strerror(code))) (a closed or invalid handle: a bug)")
        return ZMQError(code: code, operation: operation())
    }
}

/// Calls a libzmq function that returns -1 on failure, and throws the error it set.
@inline(__always)
@discardableResult
func check(_ result: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
    if result == -1 { throw ZMQError.last(operation()) }
    return result
}

/// The libzmq library version this process runs against, e.g. "4.3.4".
public var zmqVersion: String {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return "\(major).\(minor).\(patch)"
}
