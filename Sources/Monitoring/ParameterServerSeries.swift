import Distributed
import Prometheus

/// A parameter server's series, told by its driver: the steps it applied and the bytes it took
/// and sent, labelled with its run and its place (the `member` label is its server index).
public final class ParameterServerSeries: ParameterServerMonitor {
    private let registry: PrometheusCollectorRegistry
    private var server: (steps: Counter, slices: Counter, received: Counter, sent: Counter)?
    private var identity: (runID: UInt64, index: Int)?

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func joined(runID: UInt64, index: Int) {
        guard identity.map({ $0 != (runID, index) }) ?? true else { return }
        if let server {
            [server.steps, server.slices, server.received, server.sent].forEach(registry.unregisterCounter)
        }
        identity = (runID, index)
        let series = Series(registry: registry, labels: Series.labels(runID: runID, role: "parameter_server", member: UInt32(index)))
        server = (series.counter("dptrain_steps_total", "Steps this parameter server applied to its range."),
                  series.counter("dptrain_slices_total", "Members' slices of the gradient sum this server took."),
                  series.counter("dptrain_received_bytes_total", "Bytes of members' slices this server took."),
                  series.counter("dptrain_sent_bytes_total", "Bytes of weights this server sent its members."))
    }

    public func applied(step: UInt64, slices: Int, bytesReceived: Int, bytesSent: Int) {
        guard let server else { return }
        server.steps.increment()
        server.slices.increment(by: Int64(slices))
        server.received.increment(by: Int64(bytesReceived))
        server.sent.increment(by: Int64(bytesSent))
    }
}
