import Foundation
import Roles
import Wire
import ZMQ

/// The coordinator's side of the same-host bulk transport: the weights segment, written
/// once per step for every member on this host, and one gradient slot per such member.
/// Members elsewhere, or that did not offer, keep the socket for their bulk in the same run.
struct CoordinatorSharedMemory {
    /// Grant shared memory to workers that offer it from this host.
    let enabled: Bool
    var weights: SharedSegment?
    /// The gradient slot of each member that uses shared memory, by member id.
    var slots: [UInt32: SharedSegment] = [:]
    /// The doorbell of each such member, by member id: its steps and answers past libzmq.
    var doorbells: [UInt32: Doorbell] = [:]
    /// Set when a doorbell came or went: the pump's poll set is made anew.
    var doorbellsChanged = false
    /// Members shipped samples over the socket that their steps must not overtake on the doorbell:
    /// their steps take the socket too, until they answer the first of those.
    var samplesInFlight: [UInt32: SamplesInFlight] = [:]

    enum SamplesInFlight: Equatable {
        case shipped
        /// Request `request` of step `step` followed the samples on the socket.
        case followedBy(step: UInt64, request: Int)
    }

    init(enabled: Bool) { self.enabled = enabled }

    /// The weights segment, sealed against writers as soon as it is made: the coordinator's own
    /// mapping is the only one that ever writes it. Its descriptor stays open for members still to
    /// join, so any process of this user can open it through /proc, but only to read: a member maps
    /// it read-only, and no opener can write it, map it writable or change its size.
    static func makeWeights(dataBytes: Int) throws -> SharedSegment {
        let weights = try SharedSegment.create(dataBytes: dataBytes)
        try weights.sealAgainstWriters()
        return weights
    }
}

extension Coordinator {
    /// Bytes of the weights in the run's wire precision.
    var weightBytes: Int { stepParameterCount * options.wirePrecision.bytesPerValue }
    /// A gradient slot's room: the sums at their widest (a worker packs them to the bytes they need).
    var gradientBytes: Int { stepParameterCount * gradientBytesPerValue }

    /// The grant for a member being welcomed, when its hello offered shared memory from this
    /// host; nil (the socket carries its bulk) otherwise, or when the segments cannot be made.
    func sharedMemoryGrant(for member: CoordinatorStateMachine.Member, offer: SharedMemoryOffer?) -> SharedMemoryGrant? {
        forgetSharedMemory(of: member.id)
        guard sharedMemory.enabled, let offer, !SharedSegment.hostIdentity.isEmpty,
              offer.hostIdentity == SharedSegment.hostIdentity else { return nil }
        do {
            let weights = try sharedMemory.weights ?? CoordinatorSharedMemory.makeWeights(dataBytes: weightBytes)
            let slot = try SharedSegment.create(dataBytes: gradientBytes)
            let doorbell = try Doorbell.makeForCoordinator()
            sharedMemory.weights = weights
            sharedMemory.slots[member.id] = slot
            sharedMemory.doorbells[member.id] = doorbell
            sharedMemory.doorbellsChanged = true
            return SharedMemoryGrant(pid: UInt32(getpid()), weightsDescriptor: UInt32(weights.descriptor), weightsNonce: weights.nonce,
                                     slotDescriptor: UInt32(slot.descriptor), slotNonce: slot.nonce,
                                     stepPipeDescriptor: UInt32(doorbell.peerEnds.read), answerPipeDescriptor: UInt32(doorbell.peerEnds.write))
        } catch {
            logger.warning("worker \(member.id) on this host gets its weights over the socket: \(error)")
            return nil
        }
    }

    /// Drops a member's slot and doorbell (closing its pipes): it left, was lost, or is welcomed anew.
    func forgetSharedMemory(of id: UInt32) {
        sharedMemory.slots[id] = nil
        sharedMemory.samplesInFlight[id] = nil
        if sharedMemory.doorbells.removeValue(forKey: id) != nil { sharedMemory.doorbellsChanged = true }
    }

    /// Whether member `id`'s step may ring its doorbell: it has opened it, and no samples shipped
    /// over the socket are still ahead of the step (a step that overtook its samples would name
    /// indices the worker does not hold yet). Otherwise the step takes the socket, behind them.
    func stepRingsDoorbell(of id: UInt32, request: Int) -> Doorbell? {
        guard let doorbell = sharedMemory.doorbells[id], doorbell.peerHasOpened else { return nil }
        guard let inFlight = sharedMemory.samplesInFlight[id] else { return doorbell }
        if inFlight == .shipped { sharedMemory.samplesInFlight[id] = .followedBy(step: machine.step, request: request) }
        return nil
    }

    /// Member `id` answered request `request` of the step: when that request followed its
    /// samples on the socket, it has received them, and its steps may ring its doorbell again.
    func samplesArrived(at id: UInt32, request: Int) {
        if sharedMemory.samplesInFlight[id] == .followedBy(step: machine.step, request: request) { sharedMemory.samplesInFlight[id] = nil }
    }

    /// Writes the step's weights into the shared segment once, for every member that reads them there.
    func publishSharedWeights() {
        guard !sharedMemory.slots.isEmpty, let weights = sharedMemory.weights else { return }
        weights.invalidate()   // a late reader of the last step sees it gone, never torn
        parameters.withUnsafeBufferPointer { options.wirePrecision.encode($0, into: UnsafeMutableRawBufferPointer(rebasing: weights.data[0..<weightBytes])) }
        weights.publish(sequence: machine.step, length: weightBytes)
    }

    /// Where a member's gradient is when its message's bulk frame is empty.
    func sharedGradient(of member: CoordinatorStateMachine.Member?) -> SharedSegment? {
        member.flatMap { sharedMemory.slots[$0.id] }
    }
}
