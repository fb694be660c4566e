import Wire
import ZMQ

/// The coordinator's side of the run's wire precision: it keeps float32 weights and
/// optimizer state whatever travels; only the step's bulk frame is in the wire's format.
/// (Gradients arrive as exact Int64 sums whatever the precision.)
extension Coordinator {
    /// The step's weights, written once into a libzmq buffer that every member's message shares.
    func weightsFrame() throws -> SharedFrame {
        let precision = options.wirePrecision
        return try parameters.withUnsafeBufferPointer { weights in
            try SharedFrame(count: weights.count * precision.bytesPerValue) { precision.encode(weights, into: $0) }
        }
    }
}
