import Dataset
import Foundation
import Monitoring
import Plan
import Training

/// `dptrain bench prometheus`: what --prometheus costs the step loop. Single-process runs
/// alternate without the endpoint and with it (its series set by the run, as `train
/// --prometheus` does) while a thread of this process scrapes it as Prometheus does: GET
/// /metrics on one kept-alive connection every interval. Each pair's samples/s are compared;
/// the scrapes' latency is printed beside, since Prometheus records it as the scrape's duration.
struct PrometheusCostBench {
    let rounds: Int
    let batch: Int
    let epochs: Int
    let interval: Double

    struct Run {
        let rate: Double
        /// CPU seconds of the thread that ran the steps.
        let stepCPU: Double
        let scrapes: [Double]
    }

    func run(data: PreparedData) throws {
        var config = TrainingConfig.standard(inputSize: data.train.featureCount, classCount: data.train.classCount)
        config.batchSize = batch
        config.epochs = epochs
        let steps = epochs * ((data.train.count + batch - 1) / batch)
        print("\(config.model.summary), batch \(batch), \(epochs) epochs (\(steps) steps) a run, \(rounds) rounds; each round runs without "
              + "and with --prometheus (scraped every \(Int(interval * 1000)) ms on one kept-alive connection), alternating which goes first")
        print("round  without samples/s  with samples/s  ratio  step-thread CPU ratio  scrapes  scrape ms median  max")
        var pairs: [(off: Run, on: Run)] = []
        for round in 1...rounds {
            let off: Run, on: Run
            if round % 2 == 1 {
                off = try measure(config, data, endpoint: false)
                on = try measure(config, data, endpoint: true)
            } else {
                on = try measure(config, data, endpoint: true)
                off = try measure(config, data, endpoint: false)
            }
            pairs.append((off, on))
            let row = [String(round), ProgressDisplay.grouped(off.rate), ProgressDisplay.grouped(on.rate), String(format: "%.3f", on.rate / off.rate),
                       String(format: "%.3f", on.stepCPU / off.stepCPU), String(on.scrapes.count),
                       String(format: "%.2f", 1000 * BenchList.median(on.scrapes)), String(format: "%.2f", 1000 * (on.scrapes.max() ?? 0))]
            print(zip(row, [5, 17, 14, 5, 21, 7, 16, 5]).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(separator: "  "))
        }
        let ratios = pairs.map { $0.on.rate / $0.off.rate }
        let offRates = pairs.map(\.off.rate)
        let spread = (offRates.max()! - offRates.min()!) / BenchList.median(offRates)
        print(String(format: "with the endpoint scraped: %.3f of samples/s without it (median of %d rounds, %.3f to %.3f); "
                     + "the runs without it varied by %.1f%% among themselves", BenchList.median(ratios), rounds, ratios.min()!, ratios.max()!, 100 * spread))
        let latencies = pairs.flatMap(\.on.scrapes)
        print(String(format: "scrapes: %d, %.2f ms median, %.2f ms at the 99th percentile", latencies.count, 1000 * BenchList.median(latencies),
                     1000 * percentile(latencies, 0.99)))
    }

    /// One run's samples/s and the CPU its step thread used; with the endpoint, the scrapes' durations.
    func measure(_ config: TrainingConfig, _ data: PreparedData, endpoint withEndpoint: Bool) throws -> Run {
        let trainer = try SingleProcessTrainer(config: config, train: data.train, test: data.test)
        guard withEndpoint else {
            let start = threadCPUNanoseconds()
            let report = try trainer.run(observer: nil)
            return Run(rate: report.samplesPerSecond, stepCPU: Double(threadCPUNanoseconds() - start) / 1e9, scrapes: [])
        }
        let series = Series(labels: Series.labels(runID: 1, role: "single-process", member: nil))
        let endpoint = try MetricsEndpoint(listening: "127.0.0.1:0", series: series)
        defer { endpoint.stop() }
        let scraper = ScrapingThread(address: endpoint.address, interval: interval)
        scraper.start()
        let start = threadCPUNanoseconds()
        let report = try trainer.run(observer: TrainingSeries(series))
        let cpu = Double(threadCPUNanoseconds() - start) / 1e9
        let scrapes = try scraper.finish()
        return Run(rate: report.samplesPerSecond, stepCPU: cpu, scrapes: scrapes)
    }

    /// The value below which `fraction` of them lie (nearest rank).
    func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * fraction).rounded(.up)) - 1))]
    }
}

/// A thread that scrapes an endpoint every interval until told to finish, keeping each scrape's duration.
private final class ScrapingThread: @unchecked Sendable {
    private let address: String
    private let interval: Double
    private let lock = NSCondition()
    private var stopping = false, finished = false
    private var durations: [Double] = []
    private var failure: Error?

    init(address: String, interval: Double) {
        self.address = address
        self.interval = interval
    }

    func start() {
        Thread.detachNewThread { [self] in
            do {
                let scraper = try MetricsScraper(address)
                var next = Date()
                while !lock.withLock({ stopping }) {
                    let scrape = try scraper.scrape()
                    guard scrape.status == 200 else { throw ScrapeError("the endpoint answered \(scrape.status)") }
                    lock.withLock { durations.append(scrape.seconds) }
                    next += interval
                    lock.withLock { _ = stopping || lock.wait(until: max(next, Date())) }
                }
            } catch {
                lock.withLock { failure = error }
            }
            lock.withLock {
                finished = true
                lock.broadcast()
            }
        }
    }

    /// Stops the thread and returns its scrapes' durations in seconds.
    func finish() throws -> [Double] {
        lock.lock()
        defer { lock.unlock() }
        stopping = true
        lock.broadcast()
        while !finished { lock.wait() }
        if let failure { throw failure }
        return durations
    }
}
