import Foundation
import Monitoring
import Prometheus
import XCTest

/// The endpoint as Prometheus meets it: scrapes one after another on one kept-alive connection.
final class MetricsEndpointTests: XCTestCase {
    /// Prometheus keeps its connection open between scrapes. The server writes a response's
    /// headers and its body apart; with Nagle's algorithm on, the body waits for the client's ACK
    /// of the headers, which the client delays (40 ms on Linux): every scrape took ~45 ms where a
    /// new connection took under 1. So the endpoint's connections must have TCP_NODELAY.
    func testAKeptAliveConnectionSendsWithoutNaglesDelay() throws {
        let series = Series(labels: Series.labels(runID: 0xab, role: "train", member: nil))
        series.counter("dptrain_samples_total", "Samples trained.").increment(by: Int64(7))
        let endpoint = try MetricsEndpoint(listening: "127.0.0.1:0", series: series)
        defer { endpoint.stop() }
        let scraper = try MetricsScraper(endpoint.address)
        for _ in 1...3 {
            let scrape = try scraper.scrape()
            XCTAssertEqual(scrape.status, 200)
            XCTAssertTrue(String(decoding: scrape.body, as: UTF8.self).contains(#"dptrain_samples_total{run_id="00000000000000ab",role="train"} 7"#))
        }
        let server = try XCTUnwrap(Self.serverEnd(of: scraper.file), "no socket of this process is the server's end of the scraper's connection")
        var noDelay: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        XCTAssertEqual(getsockopt(server, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, &size), 0)
        XCTAssertEqual(noDelay, 1, "the endpoint's end of a kept-alive connection has Nagle's algorithm on: each scrape waits for a delayed ACK")
    }

    func testAnythingButMetricsIsNotFound() throws {
        let endpoint = try MetricsEndpoint(listening: "127.0.0.1:0", series: Series(labels: []))
        defer { endpoint.stop() }
        let scraper = try MetricsScraper(endpoint.address)
        XCTAssertEqual(try scraper.scrape(path: "/").status, 404)
        XCTAssertEqual(try scraper.scrape().status, 200)
    }

    /// The descriptor in this process whose local address is `client`'s peer and whose peer is `client`'s local address.
    static func serverEnd(of client: Int32) -> Int32? {
        guard let clientLocal = address(of: client, getsockname), let clientPeer = address(of: client, getpeername),
              let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        return names.compactMap { Int32($0) }.first { fd in
            fd != client && address(of: fd, getsockname) == clientPeer && address(of: fd, getpeername) == clientLocal
        }
    }

    /// An IPv4 socket's address as "a.b.c.d:port", through getsockname or getpeername.
    static func address(of fd: Int32, _ query: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> String? {
        var storage = sockaddr_in()
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { query(fd, $0, &size) } }
        guard status == 0, storage.sin_family == sa_family_t(AF_INET) else { return nil }
        return "\(storage.sin_addr.s_addr):\(UInt16(bigEndian: storage.sin_port))"
    }
}
