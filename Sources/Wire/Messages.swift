/// The decoded messages. The small ones are values; shard, step and gradient
/// are views into the received frames (see `WireArray`), valid while those are.

/// A worker asks to join (or rejoin) the run.
public struct Hello: Equatable, Sendable {
    /// The id the worker had before, when it rejoins; 0 for a new worker.
    public var previousWorkerID: UInt32
    /// Where the worker runs, for the logs, e.g. "node3 pid 4242"; at most `Limits.hostBytes` UTF-8 bytes.
    public var host: String
    /// The OpenBLAS core its kernels run on, e.g. "SkylakeX"; at most `Limits.blasCoreBytes`.
    /// Other kernels round differently in the last bits: the run's result would depend on who computes.
    public var blasCore: String
    /// The worker joins a run on other kernels, giving up bit-identity.
    public var acceptsOtherKernels: Bool
    /// The worker's CPU multiplies bf16 natively: it may join a run that computes in bf16.
    public var computesBF16: Bool
    /// The threads that compute its chunks (1 to `Limits.threads`): its share of the shards.
    public var threads: UInt16
    /// Set when the worker can take its weights and send its gradients through shared memory.
    public var sharedMemory: SharedMemoryOffer?

    public init(previousWorkerID: UInt32 = 0, host: String, blasCore: String = "", acceptsOtherKernels: Bool = false,
                computesBF16: Bool = false, threads: UInt16 = 1, sharedMemory: SharedMemoryOffer? = nil) {
        self.computesBF16 = computesBF16
        self.threads = threads
        self.previousWorkerID = previousWorkerID
        self.host = host
        self.blasCore = blasCore
        self.acceptsOtherKernels = acceptsOtherKernels
        self.sharedMemory = sharedMemory
    }
}

/// The coordinator admits a worker.
public struct Welcome: Equatable, Sendable {
    public var workerID: UInt32
    /// The run's configuration, opaque here (the Training layer puts JSON in it).
    public var configuration: [UInt8]
    /// The number of Float32 values in every step's parameters and every gradient.
    public var parameterCount: Int
    /// Set when the worker's weights and gradients go through shared memory.
    public var sharedMemory: SharedMemoryGrant?

    public init(workerID: UInt32, configuration: [UInt8], parameterCount: Int, sharedMemory: SharedMemoryGrant? = nil) {
        self.workerID = workerID
        self.configuration = configuration
        self.parameterCount = parameterCount
        self.sharedMemory = sharedMemory
    }
}

/// The coordinator turns a worker away.
public struct Refusal: Equatable, Sendable {
    public var reason: RefuseReason
    public var text: String

    public init(reason: RefuseReason, text: String) {
        self.reason = reason
        self.text = text
    }
}

/// How a shard's features travel: image bytes, or floats already normalised.
public enum ShardFeatureType: UInt8, Sendable {
    case uint8 = 1
    case float32 = 2

    public var byteWidth: Int { self == .uint8 ? 1 : 4 }
}

/// A worker's training samples, in place in the received frames.
public struct ShardView {
    public let count: Int
    public let features: Int
    public let classCount: Int
    public let featureType: ShardFeatureType
    /// What uint8 features are multiplied by to make the network's inputs (1 / 255 for pixels).
    public let byteScale: Float
    /// `count * features` values of `featureType`, sample after sample (floats checked finite).
    public let pixels: UnsafeRawBufferPointer
    /// `count` bytes, each < `classCount`.
    public let labels: UnsafeRawBufferPointer
}

/// The coordinator's order for one step: which samples, and the weights.
public struct StepView {
    public let epoch: UInt32
    /// Indices into the worker's shard, each checked < its sample count: chunk after chunk.
    public let indices: WireArray<UInt32>
    /// Samples of each chunk, each at least 1, together the index count.
    public let chunkSizes: WireArray<UInt32>
    /// Which of the step's chunks each is (its shard), each below `Limits.chunkCount`.
    public let chunks: WireArray<UInt32>
    /// The full parameter vector in the run's wire precision, checked to be the run's size, and
    /// finite when it came over the network (the coordinator's segment holds checked weights).
    public let parameters: WireFloats
}

/// A worker's answer to a step: sums, not means, so the coordinator can divide by the true total.
public struct GradientView {
    public let sampleCount: UInt32
    public let lossSum: Double
    public let computeNanoseconds: UInt64
    /// How many of the batch's samples the weights sent classified right, for the training accuracy.
    public let correct: UInt32
    /// The gradient sum: the run's parameter count of little-endian integers of `valueBytes`
    /// bytes each (8: Int64s; fewer: the Int64s' low bytes, sign-extended on reading), in the
    /// run's fixed-point format, at any alignment. Their bound is the coordinator's to check.
    public let sums: UnsafeRawBufferPointer
    public let valueBytes: Int
}

/// A decoded message's contents, one case per `MessageType`.
public enum Body {
    case hello(Hello)
    case welcome(Welcome)
    case refuse(Refusal)
    /// A worker cannot go on with the run; the reason, for the coordinator to report.
    case failure(String)
    case shard(ShardView)
    case step(StepView)
    case gradient(GradientView)
    case heartbeat
    case goodbye
    case shutdown
    case serverHello(ServerHello)
    case serverWelcome(ServerWelcomeView)
    /// A member makes itself known to a server: its worker id.
    case attach(UInt32)
    case slice(SliceView)
    case weights(WeightsView)
    case commit(Commit)
    case fetch
    case rangeState(RangeStateView)
    /// The CURVE public keys of the run's members: a secure server takes no other.
    case memberKeys([String])
}

/// A decoded message: its header (run id, step) and its contents.
public struct Envelope {
    public let header: Header
    public let body: Body

    public var type: MessageType { header.type }
    public var step: UInt64 { header.step }
}
