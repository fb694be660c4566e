import Distributed
import Prometheus

/// A worker's series. Its run id and member id come with each welcome; a welcome into
/// another run or under another id starts that member's series anew, as Prometheus expects
/// of a new identity. Every call comes from the worker's own thread.
public final class WorkerSeries: WorkerMonitor {
    private let registry: PrometheusCollectorRegistry
    private var member: (steps: Counter, samples: Counter, computeSeconds: Counter)?
    private var identity: (runID: UInt64, member: UInt32)?

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func joined(runID: UInt64, member id: UInt32) {
        guard identity.map({ $0 != (runID, id) }) ?? true else { return }
        if let member {
            registry.unregisterCounter(member.steps)
            registry.unregisterCounter(member.samples)
            registry.unregisterCounter(member.computeSeconds)
        }
        identity = (runID, id)
        let series = Series(registry: registry, labels: Series.labels(runID: runID, role: "worker", member: id))
        member = (series.counter("dptrain_steps_total", "Steps this worker answered as this member."),
                  series.counter("dptrain_samples_total", "Samples this worker computed gradients of as this member."),
                  series.counter("dptrain_compute_seconds_total", "Seconds this worker spent computing its answers (forward, backward and the exact sums) as this member."))
    }

    public func answered(samples: Int, computeNanoseconds: UInt64) {
        guard let member else { return }
        member.steps.increment()
        member.samples.increment(by: Int64(samples))
        member.computeSeconds.increment(by: Double(computeNanoseconds) / 1e9)
    }
}
