/// Where the time of the distributed steps went, summed over an epoch (or a
/// run) and reported per step.
public struct StepTimings: Equatable, Sendable {
    public var steps = 0
    /// Coordinator: sending every worker its step.
    public var broadcastNanoseconds: UInt64 = 0
    /// Coordinator: from the last send to the last gradient in.
    public var waitNanoseconds: UInt64 = 0
    /// Coordinator: from the last send to the first gradient in; the rest of the wait is the workers' spread.
    public var firstGradientNanoseconds: UInt64 = 0
    /// Coordinator: adding the workers' gradients in id order.
    public var reduceNanoseconds: UInt64 = 0
    /// Coordinator: the optimizer's step.
    public var updateNanoseconds: UInt64 = 0
    /// Workers: the slowest and the fastest worker's compute in each step, summed.
    public var slowestComputeNanoseconds: UInt64 = 0
    public var fastestComputeNanoseconds: UInt64 = 0
    /// Bytes sent and received by the coordinator, headers included.
    public var bytes: UInt64 = 0
    /// The part of `bytes` received (gradients, hellos, heartbeats); the rest was sent.
    public var bytesReceived: UInt64 = 0

    public init() {}

    public static func += (lhs: inout StepTimings, rhs: StepTimings) {
        lhs.steps += rhs.steps
        lhs.broadcastNanoseconds += rhs.broadcastNanoseconds
        lhs.waitNanoseconds += rhs.waitNanoseconds
        lhs.firstGradientNanoseconds += rhs.firstGradientNanoseconds
        lhs.reduceNanoseconds += rhs.reduceNanoseconds
        lhs.updateNanoseconds += rhs.updateNanoseconds
        lhs.slowestComputeNanoseconds += rhs.slowestComputeNanoseconds
        lhs.fastestComputeNanoseconds += rhs.fastestComputeNanoseconds
        lhs.bytes += rhs.bytes
        lhs.bytesReceived += rhs.bytesReceived
    }

    /// What was added since `earlier`, a value these timings once had.
    public func subtracting(_ earlier: StepTimings) -> StepTimings {
        var difference = self
        difference.steps -= earlier.steps
        difference.broadcastNanoseconds -= earlier.broadcastNanoseconds
        difference.waitNanoseconds -= earlier.waitNanoseconds
        difference.firstGradientNanoseconds -= earlier.firstGradientNanoseconds
        difference.reduceNanoseconds -= earlier.reduceNanoseconds
        difference.updateNanoseconds -= earlier.updateNanoseconds
        difference.slowestComputeNanoseconds -= earlier.slowestComputeNanoseconds
        difference.fastestComputeNanoseconds -= earlier.fastestComputeNanoseconds
        difference.bytes -= earlier.bytes
        difference.bytesReceived -= earlier.bytesReceived
        return difference
    }

    /// The metrics file's fields: milliseconds and bytes per step.
    public var metricsFields: [(String, JSONValue)] {
        let perStep = Double(max(steps, 1))
        func ms(_ nanoseconds: UInt64) -> JSONValue { .double(Double(nanoseconds) / 1e6 / perStep) }
        return [
            ("wait_ms", ms(waitNanoseconds)), ("first_gradient_ms", ms(firstGradientNanoseconds)), ("reduce_ms", ms(reduceNanoseconds)),
            ("update_ms", ms(updateNanoseconds)), ("broadcast_ms", ms(broadcastNanoseconds)),
            ("worker_compute_max_ms", ms(slowestComputeNanoseconds)),
            ("worker_compute_min_ms", ms(fastestComputeNanoseconds)),
            ("bytes_per_step", .int(Int(Double(bytes) / perStep))),
        ]
    }
}
