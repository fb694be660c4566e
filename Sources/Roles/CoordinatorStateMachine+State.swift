import Plan

/// The machine's state, each case with the data that means something in it alone (as
/// swift-nio's state machines keep theirs): a field cannot outlive the phase it belongs to.
extension CoordinatorStateMachine {
    public enum State: Sendable {
        /// Waiting for the workers the run starts with.
        case gathering(Gathering)
        case training(Training)
        /// Training is over: the workers are told, until each acknowledges or the linger passes.
        case finishing(Finishing)
        case finished
    }

    public struct Gathering: Sendable {
        /// A resumed run's assignment, to go on with over the workers that come.
        public internal(set) var resumed: ShardAssignment?
        /// Ids of a resumed run's workers, kept for them until training starts.
        public internal(set) var reservedIDs: [UInt32] = []
        /// When a restarted run's first worker arrived: the wait for the others counts from there.
        var firstArrival: UInt64?
    }

    public struct Training: Sendable {
        /// Which shards each member holds.
        public internal(set) var assignment: ShardAssignment
        /// The current step's requests: first one per member with chunks to train, in id order,
        /// then, after a loss, the lost member's chunks asked of their shards' new holders. Each
        /// member answers its requests in order. Reused from step to step.
        public internal(set) var stepRequests: [StepRequest] = []
        /// Members the current step still waits for, and how many answers from each.
        public internal(set) var awaiting: [UInt32: Int] = [:]
        /// A step is planned and not yet completed.
        public internal(set) var stepInFlight = false
        /// Every member was lost during the step: its answers are void, and the same chunks are
        /// trained again at the next step, when a worker has come.
        public internal(set) var stepAbandoned = false
        /// When the step in flight began waiting (again, after a loss), and was last probed.
        var stepStarted: UInt64 = 0
        var lastProbe: UInt64 = 0
        /// When the step's latest answer was taken (0 for none yet): a member on probation is
        /// waited for only a while after the others (`probationDeadline`).
        var lastAccepted: UInt64 = 0
    }

    public struct Finishing: Sendable {
        /// Members yet to acknowledge the shutdown.
        public internal(set) var unacknowledged: Set<UInt32>
        /// When the shutdown was last sent, and first.
        var shutdownSent: UInt64
        var finishStarted: UInt64
    }

    /// The phase alone, for a driver's or a log's checks.
    public enum Phase: Equatable, Sendable {
        case gathering, training, finishing, finished
    }

    public var phase: Phase {
        switch state {
        case .gathering: return .gathering
        case .training: return .training
        case .finishing: return .finishing
        case .finished: return .finished
        }
    }

    /// Which shards each member holds: a training run's, or the assignment a resumed run goes on
    /// with; nil before training and after it.
    public var assignment: ShardAssignment? {
        switch state {
        case .gathering(let gathering): return gathering.resumed
        case .training(let training): return training.assignment
        case .finishing, .finished: return nil
        }
    }

    public var stepRequests: [StepRequest] {
        if case .training(let training) = state { return training.stepRequests }
        return []
    }

    public var awaiting: [UInt32: Int] {
        if case .training(let training) = state { return training.awaiting }
        return [:]
    }

    public var stepInFlight: Bool {
        if case .training(let training) = state { return training.stepInFlight }
        return false
    }

    public var stepAbandoned: Bool {
        if case .training(let training) = state { return training.stepAbandoned }
        return false
    }

    public var reservedIDs: [UInt32] {
        if case .gathering(let gathering) = state { return gathering.reservedIDs }
        return []
    }

    public var unacknowledged: Set<UInt32> {
        if case .finishing(let finishing) = state { return finishing.unacknowledged }
        return []
    }

    /// Mutates the training state in place: the enum's own reference is dropped for the while, so
    /// the step's buffers are uniquely held and nothing is copied (the step loop allocates nothing).
    @inline(__always)
    mutating func withTraining<Result>(_ body: (inout Training) -> Result) -> Result {
        guard case .training(var training) = state else { preconditionFailure("not training: \(phase)") }
        state = .finished
        defer { state = .training(training) }
        return body(&training)
    }

    mutating func withGathering<Result>(_ body: (inout Gathering) -> Result) -> Result {
        guard case .gathering(var gathering) = state else { preconditionFailure("not gathering: \(phase)") }
        state = .finished
        defer { state = .gathering(gathering) }
        return body(&gathering)
    }
}
