import FlyingFox
import FlyingSocks
import Foundation
import Prometheus

/// An HTTP server that answers GET /metrics with the registry's series in Prometheus'
/// text format, and 404 to anything else. It runs on Swift's concurrency threads; a scrape
/// reads the series' atomics and never waits on the training loop.
public final class MetricsEndpoint: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    /// Where it listens, as HOST:PORT with the port the system gave when 0 was asked.
    public private(set) var address = ""
    private let server: HTTPServer
    private let process: ProcessSeries
    private let scrapes = ScrapeLog()

    /// Binds `address` (HOST:PORT, see `EndpointAddress`) and starts serving; throws a one-line error when it cannot.
    public init(listening text: String, series: Series) throws {
        let parsed = try EndpointAddress(text)
        let registry = series.registry, process = ProcessSeries(series), scrapes = self.scrapes
        let server = HTTPServer(address: try parsed.socketAddress(), timeout: 10, pool: NoDelaySocketPool(base: HTTPServer.defaultPool()),
                                logger: .disabled)
        self.registry = registry
        self.process = process
        self.server = server
        let started = StartResult()
        Task.detached {
            await server.appendRoute("GET /metrics") { _ in
                scrapes.record()
                process.refresh()
                return HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                    body: Data(registry.emitToBuffer()))
            }
            do { try await server.run() } catch { started.finish(.failure(error)) }
        }
        Task.detached {
            do {
                try await server.waitUntilListening(timeout: 5)
                started.finish(.success(await server.listeningAddress))
            } catch {
                started.finish(.failure(error))
            }
        }
        switch started.wait() {
        case .success(let bound):
            address = parsed.describe(bound)
        case .failure(let error):
            throw EndpointAddressError(text: text, reason: "cannot listen there (\(error)); is the port taken? Choose another, or 0 for any free one")
        }
    }

    /// At the end of a run, gives a Prometheus that has been scraping the chance to take the final
    /// figures: waits for one scrape after now, for at most twice the interval seen between the last
    /// two scrapes (and `longest`). Without two scrapes seen (nothing scraping, or a person's one
    /// look) it does not wait. Returns the seconds waited.
    @discardableResult
    public func awaitFinalScrape(longest: Double = 60) -> Double {
        let began = Date().timeIntervalSince1970
        guard let interval = scrapes.state().interval else { return 0 }
        let limit = min(longest, 2 * interval + 0.5)
        while Date().timeIntervalSince1970 - began < limit {
            if let last = scrapes.state().last, last > began { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return Date().timeIntervalSince1970 - began
    }

    public func stop() {
        let done = DispatchSemaphore(value: 0)
        let server = self.server
        Task.detached {
            await server.stop(timeout: 1)
            done.signal()
        }
        _ = done.wait(timeout: .now() + 3)
    }
}

/// The first outcome of starting the server, handed from its tasks to the thread that waits.
private final class StartResult: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var result: Result<Socket.Address?, Error>?

    func finish(_ outcome: Result<Socket.Address?, Error>) {
        lock.lock()
        defer { lock.unlock() }
        guard result == nil else { return }
        result = outcome
        semaphore.signal()
    }

    func wait() -> Result<Socket.Address?, Error> {
        semaphore.wait()
        lock.lock()
        defer { lock.unlock() }
        return result!
    }
}

/// When the last two scrapes came, for waiting out the final one at the end of a run.
private final class ScrapeLog: @unchecked Sendable {
    private let lock = NSLock()
    private var times: [Double] = []

    func record() {
        lock.lock()
        defer { lock.unlock() }
        times.append(Date().timeIntervalSince1970)
        if times.count > 2 { times.removeFirst() }
    }

    /// The last scrape's time and the gap between the last two.
    func state() -> (last: Double?, interval: Double?) {
        lock.lock()
        defer { lock.unlock() }
        return (times.last, times.count == 2 ? times[1] - times[0] : nil)
    }
}
