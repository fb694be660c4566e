import Plan

/// One request of a step to one member: its chunks, and whether it was answered.
public struct StepRequest: Sendable {
    public let member: CoordinatorStateMachine.Member
    public internal(set) var chunks = StepChunks()
    public internal(set) var state = State.pending

    public enum State: Equatable, Sendable {
        case pending
        case answered
        /// Its member was lost: its chunks were asked of others.
        case void
    }

    init(member: CoordinatorStateMachine.Member) { self.member = member }

    /// Local indices into the member's storage, chunk after chunk.
    public var indices: [UInt32] { chunks.indices }
    /// Samples of each chunk, in order.
    public var chunkSizes: [UInt32] { chunks.chunkSizes }
    /// The shard of each chunk.
    public var shards: [Int] { chunks.shards }
    /// The same as they travel: what the member's slices name to the parameter servers.
    public var chunkNumbers: [UInt32] { chunks.chunkNumbers }

    /// Empty again for the next step, keeping the buffers.
    mutating func reset() {
        chunks.removeAll()
        state = .pending
    }
}
