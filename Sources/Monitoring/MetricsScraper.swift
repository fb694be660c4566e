import FlyingSocks
import Foundation

/// Scrapes a `/metrics` endpoint as Prometheus does: GET requests one after another on one
/// kept-alive connection. For `dptrain bench prometheus` and the endpoint's tests; a blocking
/// socket, so it belongs on a thread of its own.
public final class MetricsScraper {
    private let socket: Socket
    private var buffered: [UInt8] = []

    /// What one scrape got and how long it took, from the request's first byte to the body's last.
    public struct Scrape {
        public let status: Int
        public let body: [UInt8]
        public let seconds: Double
    }

    /// Connects to the endpoint at HOST:PORT (as `MetricsEndpoint.address` says it).
    public init(_ address: String) throws {
        let parsed = try EndpointAddress(address)
        socket = try Socket(domain: parsed.isIPv6 ? AF_INET6 : AF_INET)
        do {
            if parsed.isIPv6 { try socket.connect(to: sockaddr_in6.inet6(ip6: parsed.host, port: parsed.port)) }
            else { try socket.connect(to: sockaddr_in.inet(ip4: parsed.host, port: parsed.port)) }
        } catch {
            try? socket.close()
            throw error
        }
    }

    deinit { try? socket.close() }

    /// The file descriptor of this end, for a test that finds the server's end of the connection.
    public var file: Int32 { socket.file.rawValue }

    public func scrape(path: String = "/metrics") throws -> Scrape {
        let began = DispatchTime.now().uptimeNanoseconds
        let request = Data("GET \(path) HTTP/1.1\r\nHost: dptrain\r\nConnection: keep-alive\r\n\r\n".utf8)
        var sent = request.startIndex
        while sent < request.endIndex { sent = try socket.write(request, from: sent) }
        let head = try readHead()
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw ScrapeError("no HTTP status line in the answer: \(head.prefix(80))")
        }
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first
        guard let length else { throw ScrapeError("the answer has no Content-Length: \(head.prefix(80))") }
        let body = try readBytes(length)
        return Scrape(status: status, body: body, seconds: Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9)
    }

    /// The response's status line and headers, up to the blank line.
    private func readHead() throws -> String {
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if buffered.count >= end.count, let at = (0...(buffered.count - end.count)).first(where: { buffered[$0..<$0 + end.count].elementsEqual(end) }) {
                let head = String(decoding: buffered[..<at], as: UTF8.self)
                buffered.removeFirst(at + end.count)
                return head
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while buffered.count < count { try fill() }
        defer { buffered.removeFirst(count) }
        return Array(buffered[..<count])
    }

    private func fill() throws {
        let bytes = try socket.read(atMost: 65536)
        guard !bytes.isEmpty else { throw ScrapeError("the endpoint closed the connection") }
        buffered += bytes
    }
}

public struct ScrapeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
