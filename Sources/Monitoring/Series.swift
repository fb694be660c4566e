import Prometheus

/// The series a process exposes, with the labels every one of them carries: the run's id,
/// the process's role and, for a worker, its member id. Named as Prometheus asks: the
/// `dptrain_` prefix, `_total` on counters, seconds and bytes.
///
/// Series are made when the run starts (and for a reason seen for the first time), never
/// per step: making one takes the registry's lock, which the HTTP thread holds while it
/// writes a scrape. Setting a value is one relaxed atomic store or add.
public final class Series {
    public let registry: PrometheusCollectorRegistry
    public private(set) var labels: [(String, String)]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), labels: [(String, String)]) {
        self.registry = registry
        self.labels = labels
    }

    public func counter(_ name: String, _ help: String, _ extra: [(String, String)] = []) -> Counter {
        registry.makeCounter(name: name, labels: labels + extra, help: help)
    }

    public func gauge(_ name: String, _ help: String, _ extra: [(String, String)] = []) -> Gauge {
        registry.makeGauge(name: name, labels: labels + extra, help: help)
    }

    /// Labels of the process's run id, role and member.
    public static func labels(runID: UInt64?, role: String, member: UInt32?) -> [(String, String)] {
        var labels = [("role", role)]
        if let runID { labels.insert(("run_id", String(runID, radix: 16).leftPadded(to: 16)), at: 0) }
        if let member { labels.append(("member", String(member))) }
        return labels
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// A counter of things whose kinds appear as they happen (members lost by reason, dropped
/// messages by reason): each kind's series is made the first time it is counted.
final class CounterByKind {
    private let series: Series
    private let name: String, help: String, label: String
    private var counters: [String: Counter] = [:]

    init(_ series: Series, _ name: String, _ help: String, label: String, known: [String]) {
        self.series = series
        self.name = name
        self.help = help
        self.label = label
        for kind in known { counters[kind] = series.counter(name, help, [(label, kind)]) }
    }

    func increment(_ kind: String) {
        if let counter = counters[kind] { counter.increment(); return }
        let counter = series.counter(name, help, [(label, kind)])
        counters[kind] = counter
        counter.increment()
    }
}
