import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a worker has no coordinator yet, in words an operator can act on: from what
/// libzmq's socket monitor says of the connection, and, when there is none, from one
/// plain connection attempt of our own (name resolution, refused, unreachable, no answer).
enum ConnectionDiagnosis {
    /// `connected`/`handshaken`: the socket monitor's view of the worker's connection.
    static func explain(endpoint: String, connected: Bool, handshaken: Bool) -> String {
        if connected && handshaken {
            return "connected, but no welcome yet (the coordinator may be busy, or refusing this worker: see its log)"
        }
        if connected { return "connected, but the security handshake has not completed" }
        if endpoint.hasPrefix("ipc://") { return explainIPC(path: String(endpoint.dropFirst("ipc://".count))) }
        if endpoint.hasPrefix("tcp://") { return explainTCP(String(endpoint.dropFirst("tcp://".count))) }
        return "not connected"
    }

    private static func explainIPC(path: String) -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            return "no socket file at \(path) (is the coordinator running on this host?)"
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "not connected" }
        defer { close(fd) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0 ? "the socket at \(path) accepts connections; ZeroMQ is still connecting"
            : "nothing listens at \(path) (\(String(cString: strerror(errno))); a socket file left by a coordinator that has stopped?)"
    }

    private static func explainTCP(_ hostAndPort: String) -> String {
        guard let colon = hostAndPort.lastIndex(of: ":") else { return "not connected" }
        var host = String(hostAndPort[..<colon])
        let port = String(hostAndPort[hostAndPort.index(after: colon)...])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, port, &hints, &found)
        guard resolved == 0, let info = found else {
            return "the name \(host) does not resolve (\(String(cString: gai_strerror(resolved)))): check the host in --connect"
        }
        defer { freeaddrinfo(info) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "not connected" }
        defer { close(fd) }
        // Non-blocking, and at most a second: the worker goes on saying hello meanwhile.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var code: Int32 = 0
        if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
            code = errno
            if code == EINPROGRESS {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&poller, 1, 1000)
                if ready == 0 {
                    return "no answer from \(host) port \(port) within a second (the host is down, or a firewall drops the packets)"
                }
                if ready < 0 { return "not connected" }   // interrupted (a stop signal): nothing was learnt
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
            }
        }
        switch code {
        case 0: return "\(host) port \(port) accepts connections; ZeroMQ is still connecting"
        case ECONNREFUSED: return "connection refused: nothing listens on \(host) port \(port) (is the coordinator running, with this --bind?)"
        case EHOSTUNREACH, ENETUNREACH: return "\(host) is unreachable (\(String(cString: strerror(code)))): check the network and the address"
        default: return "cannot connect to \(host) port \(port): \(String(cString: strerror(code)))"
        }
    }
}
