import MLP
import Wire

/// A worker's side of the same-host bulk transport: the coordinator's weights segment, read
/// in place, and this worker's gradient slot, written then published.
struct WorkerSharedMemory {
    let weights: SharedSegment
    let slot: SharedSegment

    /// The last step whose gradient the slot holds.
    private var slotStep: UInt64?

    /// Maps the segments the coordinator granted: the weights in the run's wire precision,
    /// read-only (the coordinator sealed them: no member may write what every member reads), and
    /// the slot for a gradient's Int64 sums, which this worker alone writes.
    init(_ grant: SharedMemoryGrant, weightBytes: Int, gradientBytes: Int) throws {
        let pid = Int32(bitPattern: grant.pid)
        weights = try SharedSegment.open(pid: pid, fd: Int32(bitPattern: grant.weightsDescriptor), dataBytes: weightBytes,
                                         nonce: grant.weightsNonce, writing: false)
        slot = try SharedSegment.open(pid: pid, fd: Int32(bitPattern: grant.slotDescriptor), dataBytes: gradientBytes,
                                      nonce: grant.slotNonce, writing: true)
    }

    /// Whether the weights segment still holds step `step` whole once the worker has computed on
    /// it (the decoder took them only if it did before, through `SharedSegment.bulk`), so that
    /// weights rewritten meanwhile are never taken for the step's.
    func weightsHold(step: UInt64, bytes: Int) -> Bool { weights.holds(sequence: step, length: bytes) }

    /// Writes a gradient's sums into the slot, packed to `width` bytes a value as over a socket
    /// (the coordinator reads fewer bytes, and bounds them by the width alone), then publishes
    /// them as step `step`'s; false, writing nothing, when the slot already holds an answer of
    /// that step. A step can be answered twice (the second time with chunks of a worker lost
    /// meanwhile): the coordinator reads the first answer only when it handles its message, so
    /// the slot keeps it and the second one goes over the socket.
    mutating func publish(_ sum: FixedPointSum, width: Int, step: UInt64) -> Bool {
        guard step != slotStep else { return false }
        let bytes = sum.values.count * width
        slot.invalidate()
        sum.pack(width: width, into: UnsafeMutableRawBufferPointer(rebasing: slot.data[0..<bytes]))
        slot.publish(sequence: step, length: bytes)
        slotStep = step
        return true
    }
}
