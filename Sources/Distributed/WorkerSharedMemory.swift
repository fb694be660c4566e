import Wire

/// A worker's side of the same-host bulk transport: the coordinator's weights segment, read
/// in place, and this worker's gradient slot, written then published.
struct WorkerSharedMemory {
    let weights: SharedSegment
    let slot: SharedSegment

    /// Maps the segments the coordinator granted, each of `bytes` bytes of data.
    init(_ grant: SharedMemoryGrant, bytes: Int) throws {
        let pid = Int32(bitPattern: grant.pid)
        weights = try SharedSegment.open(pid: pid, fd: Int32(bitPattern: grant.weightsDescriptor), dataBytes: bytes, nonce: grant.weightsNonce)
        slot = try SharedSegment.open(pid: pid, fd: Int32(bitPattern: grant.slotDescriptor), dataBytes: bytes, nonce: grant.slotNonce)
    }

    /// Whether the weights segment holds step `step` whole; checked before and after computing
    /// on it, so that weights rewritten meanwhile are never taken for the step's.
    func weightsHold(step: UInt64, bytes: Int) -> Bool { weights.holds(sequence: step, length: bytes) }

    /// Writes `gradient` into the slot in `precision`, then publishes it as step `step`'s.
    func publish(_ gradient: [Float], precision: WirePrecision, step: UInt64) {
        let bytes = gradient.count * precision.bytesPerValue
        slot.invalidate()
        gradient.withUnsafeBufferPointer { precision.encode($0, into: UnsafeMutableRawBufferPointer(rebasing: slot.data[0..<bytes])) }
        slot.publish(sequence: step, length: bytes)
    }
}
