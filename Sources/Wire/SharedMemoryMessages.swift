/// The same-host bulk transport's fields, which ride at the end of a hello and a welcome
/// when shared memory is offered and granted (Protocol.swift has the layout). With them,
/// a step's and a gradient's bulk frame is empty: the data is in shared memory.

/// A receiver's map of its sender's shared-memory segment, which the decoder reads a message's
/// bulk from when the message's bulk frame is empty.
public protocol SharedBulkSource: AnyObject {
    /// The first `length` bytes of data when they are exactly what the sender published for
    /// step `step`; nil for another step, another length, or a write under way.
    func bulk(step: UInt64, length: Int) -> UnsafeRawBufferPointer?
}

/// A worker's offer to move weights and gradients through shared memory.
public struct SharedMemoryOffer: Equatable, Sendable {
    /// The kernel's boot id and the worker's pid namespace: the coordinator grants shared
    /// memory only when they equal its own, i.e. on the same host and namespace.
    public var hostIdentity: String

    public init(hostIdentity: String) {
        self.hostIdentity = hostIdentity
    }
}

/// The coordinator's grant: the memory files the worker opens through /proc/PID/fd/FD, the
/// nonces that prove it opened the right ones, and the two pipes of its doorbell (opened the
/// same way), which carry the worker's steps and gradient-ready answers past libzmq.
public struct SharedMemoryGrant: Equatable, Sendable {
    public var pid: UInt32
    /// The weights, which the coordinator writes once per step for every such worker.
    public var weightsDescriptor: UInt32
    public var weightsNonce: UInt64
    /// This worker's gradient slot.
    public var slotDescriptor: UInt32
    public var slotNonce: UInt64
    /// The read end of the pipe the coordinator writes this worker's steps into.
    public var stepPipeDescriptor: UInt32
    /// The write end of the pipe this worker writes its gradient-ready answers into.
    public var answerPipeDescriptor: UInt32

    public init(pid: UInt32, weightsDescriptor: UInt32, weightsNonce: UInt64, slotDescriptor: UInt32, slotNonce: UInt64,
                stepPipeDescriptor: UInt32, answerPipeDescriptor: UInt32) {
        self.pid = pid
        self.weightsDescriptor = weightsDescriptor
        self.weightsNonce = weightsNonce
        self.slotDescriptor = slotDescriptor
        self.slotNonce = slotNonce
        self.stepPipeDescriptor = stepPipeDescriptor
        self.answerPipeDescriptor = answerPipeDescriptor
    }
}

extension [UInt8] {
    mutating func append(_ offer: SharedMemoryOffer) {
        appendPrefixed(Array(offer.hostIdentity.utf8))
    }

    mutating func append(_ grant: SharedMemoryGrant) {
        appendLittleEndian(grant.pid)
        appendLittleEndian(grant.weightsDescriptor)
        appendLittleEndian(grant.weightsNonce)
        appendLittleEndian(grant.slotDescriptor)
        appendLittleEndian(grant.slotNonce)
        appendLittleEndian(grant.stepPipeDescriptor)
        appendLittleEndian(grant.answerPipeDescriptor)
    }
}

extension ByteReader {
    /// The offer at the end of a hello, when there is one.
    mutating func sharedMemoryOffer() throws -> SharedMemoryOffer? {
        guard remaining > 0 else { return nil }
        return SharedMemoryOffer(hostIdentity: try string("host identity", limit: Limits.hostBytes))
    }

    /// The grant at the end of a welcome, when there is one.
    mutating func sharedMemoryGrant() throws -> SharedMemoryGrant? {
        guard remaining > 0 else { return nil }
        return SharedMemoryGrant(pid: try integer("the coordinator's pid"), weightsDescriptor: try integer("the weights descriptor"),
                                 weightsNonce: try integer("the weights nonce"), slotDescriptor: try integer("the slot descriptor"),
                                 slotNonce: try integer("the slot nonce"), stepPipeDescriptor: try integer("the step pipe descriptor"),
                                 answerPipeDescriptor: try integer("the answer pipe descriptor"))
    }
}
