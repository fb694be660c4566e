import MLP
import Plan
import Wire

/// Every decision of the coordinator, with no sockets and no clock: who is in
/// the run, who is joining, which samples each member holds, which step is
/// under way and whose gradients it still waits for, when a member is lost
/// and why, and how the run ends. The driver (`Coordinator`) feeds it what
/// arrives and what its clock says (`tick(now:)`, as etcd raft's `tick`), and
/// carries out the actions it returns; tests feed it by hand.
///
/// Messages, time, steps and the run's end live in the extensions beside this file.
public struct CoordinatorStateMachine {
    /// A connection's address on the coordinator's socket (a ROUTER routing id).
    public typealias Peer = [UInt8]

    public struct Member: Equatable, Sendable {
        public let id: UInt32
        public let peer: Peer
        /// Where the worker says it runs, for the logs.
        public let host: String
        /// The public key its connection was authenticated with (Z85), when the run uses keys.
        public let key: String?
        /// The BLAS kernels it computes on, as its hello said.
        public let blasCore: String
        /// Where its connection comes from (the address over tcp, else what its hello says): what
        /// a run without keys backs off and refuses, as a run with keys does the key.
        public let origin: String
        /// The threads that compute its chunks, as its hello said: its weight in the shards' assignment.
        public let threads: Int

        public init(id: UInt32, peer: Peer, host: String, key: String? = nil, blasCore: String = "", threads: Int = 1, origin: String? = nil) {
            self.id = id
            self.threads = threads
            self.peer = peer
            self.host = host
            self.key = key
            self.blasCore = blasCore
            self.origin = origin ?? host
        }

        /// Whom back-offs and expulsions hold to account: the key, or without keys the origin.
        public var identity: String { key ?? origin }
    }

    /// What the driver must do, in order.
    public enum Action: Equatable, Sendable {
        /// Send this new member its welcome, granting it shared memory if it offered some (`sharedMemory`:
        /// its hello's offer, which the driver grants when the offer comes from its own host).
        case welcome(Member, sharedMemory: SharedMemoryOffer?)
        /// Send this peer a refusal; under `answeringRun` rather than this run's id when set
        /// (a worker of another run decodes only its own run's messages).
        case refuse(Peer, RefuseReason, String, answeringRun: UInt64?)
        /// Refuse a hello of protocol version `version` (another release) in a header of that
        /// version, which a worker of any release reads (see Protocol.swift).
        case refuseOtherVersion(Peer, version: UInt16)
        /// Send this member a heartbeat (also the probe of a waiting step).
        case heartbeat(Member)
        /// Send this member these training samples (global indices), to append to its storage.
        case ship([Int32], to: Member)
        /// A member that was joining takes part from the next step, storing this many samples.
        case joined(Member, samples: Int)
        /// This member no longer takes part; its samples have gone to the others (see the ships).
        case lost(Member, LossReason)
        /// Tell this member that training is over.
        case shutdown(Member)
        /// Count and log a dropped message.
        case dropped(DropReason)
        /// Keep the run's state as it stands after `step` steps: verification may roll back to it.
        case keepSnapshot(step: UInt64)
        /// The snapshot after `step` steps is no longer needed.
        case dropSnapshot(step: UInt64)
        /// This member's answer for `step` differed from the recomputation of its chunks: it is
        /// expelled (the `lost` that follows) and its key, or host, refused for the rest of the run.
        case verificationFailed(Member, step: UInt64)
        /// The step in flight is abandoned: restore the state kept after `step` steps (the state
        /// in hand when `step` is the one before the abandoned step) and train on from there.
        case rollBack(toStep: UInt64)
        /// Shards moved to follow the members' measured speeds (see the ships): each member's
        /// shards now, and its measured samples per second.
        case rebalanced(shards: [UInt32: Int], samplesPerSecond: [UInt32: Double])
    }

    /// Whether to keep a gradient.
    public enum GradientDecision: Equatable, Sendable {
        /// The answer to this member's request `request` (an index into `stepRequests`).
        case accept(Member, request: Int)
        case drop(DropReason)
        /// An answer no honest member can send: dropped, and its member lost (these actions:
        /// the loss, and its samples shipped to the others, who are asked its chunks).
        case reject(DropReason, [Action])
    }

    /// What the run is set up with.
    public struct Settings: Equatable, Sendable {
        /// Workers to wait for before the first step.
        public var expectedWorkers: Int
        /// The most workers at once.
        public var maxWorkers: Int
        /// How long a step waits for a gradient, and a member may stay silent.
        public var stepDeadline: UInt64
        public var sampleCount: Int
        /// Samples per step, over all members: the global batch.
        public var batchSize: Int
        /// Virtual shards; nil for `ShardPlan.defaultShardCount(batchSize:)`.
        public var shardCount: Int
        public var seed: UInt64
        /// Epochs the run trains.
        public var epochs: Int
        /// A coordinator restarted with --resume: some of the workers it waits for may have
        /// died with the one before, so it waits for them only a while (see `isReadyToStart`).
        public var restarted: Bool
        /// The BLAS kernels the run computes on; a worker on others is refused unless it accepts
        /// losing bit-identity. Nil: not checked.
        public var blasCore: String?
        /// The run's compute precision: a bf16 run refuses workers that cannot compute in it.
        public var compute: ComputePrecision = .float32
        /// When the run ends before its last epoch (`RunCourse.scored(accuracy:)`); nil: never.
        public var stopping: StoppingRule?
        /// The model's loss and classes, which bound the loss sum an answer can claim.
        public var loss: Loss = .crossEntropy
        public var classCount = 10
        /// The fraction of answers recomputed and compared bit for bit (`--verify`); 0 for none.
        public var verifyFraction = 0.0
        /// Move shards to follow the members' measured speeds (`--rebalance`, on by default).
        public var rebalance = true

        public init(expectedWorkers: Int, maxWorkers: Int = .max, stepDeadlineSeconds: Double = Liveness.defaultStepDeadlineSeconds,
                    sampleCount: Int, batchSize: Int, shardCount: Int? = nil, seed: UInt64, epochs: Int, restarted: Bool = false,
                    blasCore: String? = nil) {
            precondition(expectedWorkers > 0 && maxWorkers >= expectedWorkers && batchSize > 0 && epochs > 0)
            self.epochs = epochs
            self.shardCount = shardCount ?? ShardPlan.defaultShardCount(batchSize: batchSize)
            self.blasCore = blasCore
            self.expectedWorkers = expectedWorkers
            self.maxWorkers = maxWorkers
            stepDeadline = Liveness.nanoseconds(stepDeadlineSeconds)
            self.sampleCount = sampleCount
            self.batchSize = batchSize
            self.seed = seed
            self.restarted = restarted
        }
    }

    public typealias ResumePoint = Plan.ResumePoint

    public let settings: Settings
    /// Where the run is, with the data of that phase alone (`CoordinatorStateMachine+State.swift`).
    public internal(set) var state = State.gathering(Gathering())
    /// Members taking part in steps, in id order: the order gradients are summed in.
    public internal(set) var members: [Member] = []
    /// Members welcomed since the last step boundary; they take part from the next.
    public internal(set) var joining: [Member] = []
    /// Where the run stands in its epochs and steps: the one count of them, which decides when an
    /// epoch begins and closes, which step trains and when the run ends (`advance(now:)`).
    public internal(set) var course: RunCourse
    /// The step under way (1 for the first), 0 before training.
    public internal(set) var step: UInt64 = 0
    /// The members' measured speeds, and whether they call for another split of the shards.
    public internal(set) var balance: SpeedBalance
    /// Messages dropped so far, by kind.
    public internal(set) var dropped: [String: Int] = [:]
    public internal(set) var nextID: UInt32 = 1
    /// The key each id was first admitted with: an id is bound to its key for the whole run.
    var keyOfID: [UInt32: String] = [:]

    // Time, in the driver's monotonic nanoseconds.
    var lastHeard: [UInt32: UInt64] = [:]
    var lastHeartbeat: UInt64 = 0
    var lastOtherRunNotice: [Peer: UInt64] = [:]
    /// Losses found while sending; settled together by the next `tick`, never while samples move.
    var pendingLosses: [(id: UInt32, reason: LossReason)] = []
    /// Joining members not heard from since their welcome: they take part only once they speak,
    /// so a peer that says hello and nothing more never holds up a step.
    var unheard: Set<UInt32> = []
    /// Identities (`Member.identity`) lost for silence, a missed deadline or a bad answer: how
    /// often, and until when their hellos are told to try later (`Liveness.rejoinBackoff`).
    public internal(set) var backoffs: [String: (losses: Int, until: UInt64)] = [:]
    /// Identities whose answers failed verification: refused for the rest of the run.
    public internal(set) var expelled: Set<String> = []
    /// Verification: answers taken from each member since it joined (its probation), the first
    /// step each member's answer went unchecked, and the course at each step whose state the
    /// driver keeps (`CoordinatorStateMachine+Verification.swift`).
    var answersTaken: [UInt32: Int] = [:]
    public internal(set) var unverifiedSince: [UInt32: UInt64] = [:]
    public internal(set) var snapshotCourses: [UInt64: RunCourse] = [:]

    public init(settings: Settings) {
        self.settings = settings
        balance = SpeedBalance(enabled: settings.rebalance)
        course = RunCourse(epochs: settings.epochs, stepsPerEpoch: ShardPlan.stepsPerEpoch(
            sampleCount: settings.sampleCount, shardCount: settings.shardCount, batchSize: settings.batchSize), stopping: settings.stopping)
    }

    /// A resumed run: its step, its course (extended to the settings' epochs), its sample
    /// assignment and the ids its workers had.
    public init(settings: Settings, resuming point: ResumePoint) {
        self.init(settings: settings)
        step = point.step
        course = point.course
        course.extend(to: max(settings.epochs, point.course.epochs))
        course.stopping = settings.stopping
        nextID = max(point.nextID, (point.memberIDs.max() ?? 0) &+ 1, 1)
        var assignment = point.assignment
        if course.epoch > 0 { assignment.drawOrders(epoch: course.epoch) }
        state = .gathering(Gathering(resumed: assignment, reservedIDs: point.memberIDs.sorted()))
    }

    public var resumePoint: ResumePoint? {
        assignment.map { ResumePoint(step: step, course: course, memberIDs: members.map(\.id), nextID: nextID, assignment: $0) }
    }

    public var allMembers: [Member] { members + joining }
    /// Whether the first step can go: the workers the run waits for are in; or, in a restarted run
    /// (whose workers may not all have survived the crash), every worker of the checkpoint is back,
    /// or the others have had `Liveness.resumeGatherWait` since the first came to come back too.
    public func isReadyToStart(now: UInt64) -> Bool {
        guard case .gathering(let gathering) = state, !members.isEmpty else { return false }
        if members.count >= settings.expectedWorkers { return true }
        guard settings.restarted, let firstArrival = gathering.firstArrival else { return false }
        let everyWorkerIsBack = gathering.resumed != nil && gathering.reservedIDs.isEmpty
        return everyWorkerIsBack || now &- firstArrival >= Liveness.resumeGatherWait(stepDeadline: settings.stepDeadline)
    }
    public var isStepComplete: Bool { awaiting.isEmpty }
    public var droppedCount: Int { dropped.values.reduce(0, +) }

    /// The member at this connection, found without copying the address. Inlinable so that the
    /// driver's call is specialised: unspecialised across modules, it allocates on every message.
    @inlinable
    public func member<Bytes: Collection<UInt8>>(at peer: Bytes) -> Member? {
        members.first { $0.peer.elementsEqual(peer) } ?? joining.first { $0.peer.elementsEqual(peer) }
    }

    func member(id: UInt32) -> Member? {
        members.first { $0.id == id } ?? joining.first { $0.id == id }
    }

    mutating func count(_ reason: DropReason) -> Action {
        dropped[reason.kind, default: 0] += 1
        return .dropped(reason)
    }
}
