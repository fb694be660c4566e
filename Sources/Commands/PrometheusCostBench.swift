import Dataset
import Distributed
import Foundation
import Monitoring
import Plan
import Training

/// `dptrain bench prometheus`: what --prometheus costs the step loop. Runs alternate without the
/// endpoint and with it (its series set by the run, as `--prometheus` does) while a thread of
/// this process scrapes it as Prometheus does: GET /metrics on one kept-alive connection every
/// interval. Single-process runs by default; with `workers`, a coordinator here and that many
/// worker processes, every one of them serving and scraped. Each pair's samples/s are compared;
/// the scrapes' durations are printed beside, since Prometheus records them.
struct PrometheusCostBench {
    let rounds: Int
    let batch: Int
    let epochs: Int
    let interval: Double
    /// 0: single-process runs; else a coordinator and this many worker processes over ipc.
    var workers = 0
    /// Each worker's threads: the allowed cores shared among the workers, as `launch` shares them.
    var threadsPerWorker: Int { max(1, AllowedCores.count.cores / max(workers, 1)) }

    struct Run {
        let rate: Double
        /// CPU seconds of the thread that ran the steps (the coordinator's, with workers).
        let stepCPU: Double
        /// Samples per CPU second of every process of the run (the workers and this one, its
        /// HTTP threads included, the scraping thread not): steadier than samples/s on a busy machine.
        let cpuRate: Double
        let scrapes: [Double]
    }

    func run(data: PreparedData) throws {
        var config = TrainingConfig.standard(inputSize: data.train.featureCount, classCount: data.train.classCount)
        config.batchSize = batch
        config.epochs = epochs
        let steps = epochs * ((data.train.count + batch - 1) / batch)
        let processes = workers == 0 ? "one process" : "a coordinator and \(workers) worker processes over ipc (\(threadsPerWorker) threads each)"
        print("\(config.model.summary), batch \(batch), \(epochs) epochs (\(steps) steps) a run, \(processes), \(rounds) rounds; each round runs "
              + "without and with --prometheus (scraped every \(Int(interval * 1000)) ms on one kept-alive connection each), alternating which goes first")
        print("round  without samples/s  with samples/s  ratio  samples/CPU-s ratio  step-thread CPU ratio  scrapes  scrape ms median  max")
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
                       String(format: "%.3f", on.cpuRate / off.cpuRate), String(format: "%.3f", on.stepCPU / off.stepCPU), String(on.scrapes.count),
                       String(format: "%.2f", 1000 * BenchList.median(on.scrapes)), String(format: "%.2f", 1000 * (on.scrapes.max() ?? 0))]
            print(zip(row, [5, 17, 14, 5, 19, 21, 7, 16, 5]).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(separator: "  "))
        }
        let ratios = pairs.map { $0.on.rate / $0.off.rate }
        let offRates = pairs.map(\.off.rate)
        let spread = (offRates.max()! - offRates.min()!) / BenchList.median(offRates)
        print(String(format: "with the endpoint scraped: %.3f of samples/s without it (median of %d rounds, %.3f to %.3f); "
                     + "the runs without it varied by %.1f%% among themselves", BenchList.median(ratios), rounds, ratios.min()!, ratios.max()!, 100 * spread))
        let cpuRatios = pairs.map { $0.on.cpuRate / $0.off.cpuRate }
        let offCPURates = pairs.map(\.off.cpuRate)
        print(String(format: "per CPU second of the run's processes: %.3f (median, %.3f to %.3f); the runs without it varied by %.1f%%",
                     BenchList.median(cpuRatios), cpuRatios.min()!, cpuRatios.max()!,
                     100 * (offCPURates.max()! - offCPURates.min()!) / BenchList.median(offCPURates)))
        let latencies = pairs.flatMap(\.on.scrapes)
        print(String(format: "scrapes: %d, %.2f ms median, %.2f ms at the 99th percentile", latencies.count, 1000 * BenchList.median(latencies),
                     1000 * percentile(latencies, 0.99)))
    }

    /// One run's samples/s and the CPU its step thread used; with the endpoint, the scrapes' durations.
    func measure(_ config: TrainingConfig, _ data: PreparedData, endpoint withEndpoint: Bool) throws -> Run {
        let series = Series(labels: Series.labels(runID: 1, role: workers == 0 ? "single-process" : "coordinator", member: nil))
        let endpoint = withEndpoint ? try MetricsEndpoint(listening: "127.0.0.1:0", series: series) : nil
        defer { endpoint?.stop() }
        // A worker's endpoint on a port free a moment ago: a worker cannot say which port 0 gave it but in its log.
        let workerAddresses = withEndpoint ? try (0..<workers).map { _ in "127.0.0.1:\(try EndpointAddress.freeLoopbackPort())" } : []
        let scraper = endpoint.map { ScrapingThread(addresses: [$0.address] + workerAddresses, interval: interval) }
        scraper?.start()
        let observer = withEndpoint ? TrainingSeries(series) : nil
        let start = threadCPUNanoseconds(), processesStart = processCPUNanoseconds()
        let report: TrainingReport
        if workers == 0 {
            report = try SingleProcessTrainer(config: config, train: data.train, test: data.test).run(observer: observer)
        } else {
            report = try DistributedBench(workerCounts: [workers], batch: config.batchSize, shards: nil, epochs: config.epochs)
                .measure(config: config, data: data, workers: workers, transport: .ipc, verify: CoordinatorOptions.defaultVerify, observer: observer,
                         workerArguments: { ["--threads", String(threadsPerWorker)] + (withEndpoint ? ["--prometheus", workerAddresses[$0 - 1]] : []) })
        }
        let cpu = Double(threadCPUNanoseconds() - start) / 1e9
        let scrapes = try scraper?.finish() ?? []
        let processesCPU = Double(processCPUNanoseconds() - processesStart - (scraper?.cpuNanoseconds ?? 0)) / 1e9
        let samples = Double(config.epochs * data.train.count)
        return Run(rate: report.samplesPerSecond, stepCPU: cpu, cpuRate: samples / processesCPU, scrapes: scrapes)
    }


    /// The value below which `fraction` of them lie (nearest rank).
    func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * fraction).rounded(.up)) - 1))]
    }
}

/// A thread that scrapes endpoints every interval until told to finish, keeping each scrape's
/// duration. An endpoint not yet listening (a worker starting) is tried again for 10 s.
private final class ScrapingThread: @unchecked Sendable {
    private let addresses: [String]
    private let interval: Double
    private let lock = NSCondition()
    private var stopping = false, finished = false
    private var durations: [Double] = []
    private var failure: Error?
    /// The CPU time this thread used, once finished: the scraper's, which is Prometheus' and not the run's.
    private(set) var cpuNanoseconds: UInt64 = 0

    init(addresses: [String], interval: Double) {
        self.addresses = addresses
        self.interval = interval
    }

    func start() {
        Thread.detachNewThread { [self] in
            do {
                var scrapers = try addresses.map(connect)
                var next = Date()
                while !lock.withLock({ stopping }) {
                    // A worker's endpoint closes when the worker exits at the end of the run, before the
                    // coordinator's run returns: it is no longer scraped (the scrapes column shows one gone early).
                    scrapers = try scrapers.filter { scraper in
                        guard let scrape = try? scraper.scrape() else { return false }
                        guard scrape.status == 200 else { throw ScrapeError("the endpoint answered \(scrape.status)") }
                        lock.withLock { durations.append(scrape.seconds) }
                        return true
                    }
                    next += interval
                    lock.withLock { _ = stopping || lock.wait(until: max(next, Date())) }
                }
            } catch {
                lock.withLock { failure = error }
            }
            lock.withLock {
                cpuNanoseconds = threadCPUNanoseconds()
                finished = true
                lock.broadcast()
            }
        }
    }

    private func connect(_ address: String) throws -> MetricsScraper {
        let giveUp = Date() + 10
        while true {
            do { return try MetricsScraper(address) } catch {
                if Date() > giveUp || lock.withLock({ stopping }) { throw ScrapeError("cannot reach the endpoint at \(address): \(error)") }
                Thread.sleep(forTimeInterval: 0.01)
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

/// CPU time of this process and of its children that have been waited for, user and system.
func processCPUNanoseconds() -> UInt64 {
    func nanoseconds(_ who: __rusage_who_t) -> UInt64 {
        var usage = rusage()
        getrusage(who, &usage)
        return [usage.ru_utime, usage.ru_stime].reduce(0) { $0 + UInt64($1.tv_sec) * 1_000_000_000 + UInt64($1.tv_usec) * 1_000 }
    }
    return nanoseconds(RUSAGE_SELF.rawValue) + nanoseconds(RUSAGE_CHILDREN.rawValue)
}
