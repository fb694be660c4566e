import FlyingSocks
import Foundation

/// --prometheus's HOST:PORT: an IPv4 address, `localhost`, or an IPv6 address in brackets
/// ([::1]:9400); a port alone means loopback, so that nothing is exposed unless asked.
/// Port 0 takes any free port.
public struct EndpointAddress: Equatable {
    public let host: String
    public let port: UInt16

    public static let defaultHost = "127.0.0.1"

    public init(_ text: String) throws {
        func fail(_ reason: String) -> EndpointAddressError { EndpointAddressError(text: text, reason: reason) }
        var hostPart = Self.defaultHost
        var portPart = Substring(text)
        if let colon = text.lastIndex(of: ":") {
            hostPart = String(text[..<colon])
            portPart = text[text.index(after: colon)...]
            if hostPart.hasPrefix("[") && hostPart.hasSuffix("]") { hostPart = String(hostPart.dropFirst().dropLast()) }
            if hostPart == "localhost" { hostPart = Self.defaultHost }
        }
        guard let port = UInt16(portPart) else {
            throw fail("the port must be a number from 0 to 65535, as in 127.0.0.1:9400 (0 for any free port)")
        }
        var v4 = in_addr(), v6 = in6_addr()
        guard inet_pton(AF_INET, hostPart, &v4) == 1 || inet_pton(AF_INET6, hostPart, &v6) == 1 else {
            throw fail("the host must be an IP address (127.0.0.1, 0.0.0.0 for every interface, [::1]) or localhost")
        }
        host = hostPart
        self.port = port
    }

    var isIPv6: Bool { host.contains(":") }

    /// A loopback port that was free a moment ago (the one the system gives a socket bound to port
    /// 0), for a process whose endpoint another must find without reading its log.
    public static func freeLoopbackPort() throws -> UInt16 {
        let probe = try Socket(domain: AF_INET)
        defer { try? probe.close() }
        try probe.bind(to: sockaddr_in.inet(ip4: defaultHost, port: 0))
        guard case .ip4(_, let port) = try probe.sockname() else { throw EndpointAddressError(text: "\(defaultHost):0", reason: "no port given") }
        return port
    }

    func socketAddress() throws -> any SocketAddress {
        isIPv6 ? try sockaddr_in6.inet6(ip6: host, port: port) : try sockaddr_in.inet(ip4: host, port: port)
    }

    /// HOST:PORT with the port the system bound.
    func describe(_ bound: Socket.Address?) -> String {
        var port = self.port
        switch bound {
        case .ip4(_, let p)?, .ip6(_, let p)?: port = p
        default: break
        }
        return isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

public struct EndpointAddressError: Error, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "--prometheus \(text): \(reason)" }
}
