import ArgumentParser
import Monitoring

/// --prometheus HOST:PORT: serve the process's live figures on /metrics for Prometheus to scrape.
public struct PrometheusOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve the run's figures for Prometheus on http://HOST:PORT/metrics (a port alone: on 127.0.0.1; port 0: any free one, logged).", valueName: "host:port"))
    public var prometheus: String?

    public init() {}

    public func validate() throws {
        try validate(processes: 1)
    }

    /// For `launch`: the coordinator takes PORT and worker N PORT+N, which must all be ports.
    func validate(processes: Int) throws {
        if let prometheus, let address = try? EndpointAddress(prometheus), address.port != 0, Int(address.port) + processes - 1 > 65535 {
            throw ValidationError("--prometheus \(prometheus): launch gives the coordinator port \(address.port) and worker N port \(address.port)+N, past 65535 with \(processes - 1) workers; choose a lower port")
        }
        if let prometheus {
            do { _ = try EndpointAddress(prometheus) } catch let error as EndpointAddressError { throw ValidationError(error.description) }
        }
    }

    /// The endpoint asked for, serving `series`, and a line saying where; nil when none was asked.
    func start(_ series: Series, say: (String) -> Void) throws -> MetricsEndpoint? {
        guard let prometheus else { return nil }
        let endpoint = try MetricsEndpoint(listening: prometheus, series: series)
        say("prometheus: serving http://\(endpoint.address)/metrics")
        return endpoint
    }
}

extension MetricsEndpoint {
    /// The end of the process: a Prometheus that has been scraping takes the final figures, then the server stops.
    func finish(say: (String) -> Void) {
        let waited = awaitFinalScrape()
        if waited >= 1 { say(String(format: "prometheus: waited %.1f s for the final scrape", waited)) }
        stop()
    }
}
