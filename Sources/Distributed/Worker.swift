import CSignals
import Dataset
import Foundation
import Logging
import MLP
import Roles
import Training
import Wire
import ZMQ

/// A worker's driver: connects to the coordinator, feeds its state machine
/// (`WorkerStateMachine`: hello with backoff, heartbeats, rejoin, give-up,
/// refusals, shutdown) what arrives and what the clock says, carries out its
/// actions, and answers every step with the gradient sum of its batch.
public final class Worker {
    public let endpoint: String

    let context: Context
    var socket: Socket
    let security: SocketSecurity
    /// Reports a failed handshake (a refused key, a wrong coordinator key) that libzmq would retry in silence.
    private var handshake: HandshakeMonitor
    let logger: Logger
    private let host: String
    var encoder = MessageEncoder()
    private let message = Message(maxFrames: framesPerMessage)
    /// Where the servers' messages are received, apart from the coordinator's in hand.
    let serverMessage = Message(maxFrames: framesPerMessage)
    var machine: WorkerStateMachine
    /// Faults a test put in on purpose; none in production.
    let faults: WorkerFaults

    // Set by the welcome and the shards.
    var runID: UInt64 = 0
    var configuration: RunConfiguration?
    /// The run's parameters, kept from the welcome: the model's count is worked out anew on each ask.
    private var parameterCount = 0
    var chunks: ChunkedGradient?
    var shard: LabeledImages?
    /// The step's rows as indices into the shard, chunk after chunk, and each chunk's size.
    var chunkIndices: [Int32] = []
    var chunkSizes: [Int] = []
    /// Threads that compute the step's chunks; the hello says so, and the coordinator shares out the shards to match.
    public let threads: Int
    /// Where the step's parameters are copied when they are not float32 aligned in libzmq's buffer.
    private var alignedParameters: [Float] = []
    /// Offer to take weights and send gradients through shared memory when on the coordinator's host.
    private let offersSharedMemory: Bool
    /// The segments, when the coordinator granted shared memory.
    private var shared: WorkerSharedMemory?
    /// The coordinator's doorbell, granted with the segments: steps in, gradient-ready answers out, past libzmq.
    private var doorbell: Doorbell?

    /// Bytes of the run's weights in its wire precision.
    private var weightBytes: Int {
        parameterCount * (configuration?.precision ?? .float32).bytesPerValue
    }

    public internal(set) var stepsDone = 0
    /// Told of each welcome and each answered step (the Prometheus endpoint); nil for none.
    public var monitor: WorkerMonitor?
    /// Leave cleanly at the end of the step in hand on SIGTERM or SIGINT.
    private let leavesOnStopSignal: Bool
    /// Join a run whose BLAS kernels are not this worker's, giving up bit-identity.
    private let acceptsOtherKernels: Bool
    private var saidWaiting = false
    private var pollItems: [PollItem] = []
    /// The run's parameter servers, when it has some (Worker+ParameterServers.swift): each a
    /// connection, its range and the step its weights there are for; the weights they sent, whole;
    /// a step asked before its weights were all in, and its chunk numbers.
    var servers: [ServerLink] = []
    var serverWeights: [Float] = []
    var pendingStep: PendingStep?
    var stepChunkNumbers: [UInt32] = []
    var lastAttach: UInt64 = 0
    /// Values in the bulk of the coordinator's steps and of gradients to it: none with parameter servers.
    private var coordinatorBulkCount = 0

    /// Connects (lazily: nothing needs to listen yet) to the coordinator at `endpoint`.
    public init(endpoint: String, context: Context, logger: Logger, giveUpAfterSeconds: Double = 300,
                host: String = Worker.defaultHost, leavesOnStopSignal: Bool = false, sharedMemory: Bool = true,
                acceptsOtherKernels: Bool = false, faults: WorkerFaults = .none, security: SocketSecurity = .none, threads: Int = 1) throws {
        precondition((1...Int(Limits.threads)).contains(threads))
        self.threads = threads
        offersSharedMemory = sharedMemory && !SharedSegment.hostIdentity.isEmpty
        self.acceptsOtherKernels = acceptsOtherKernels
        self.endpoint = endpoint
        self.context = context
        self.logger = logger
        self.leavesOnStopSignal = leavesOnStopSignal
        self.faults = faults
        self.host = String(host.utf8.prefix(Limits.hostBytes)) ?? "worker"
        machine = WorkerStateMachine(giveUpAfterSeconds: giveUpAfterSeconds, now: Self.now())
        self.security = security
        (socket, handshake) = try Worker.connectedSocket(context, endpoint, security)
    }

    /// A DEALER to a coordinator at `endpoint`, as a worker's (and a parameter server's, `role`) link to it is.
    static func connectedSocket(_ context: Context, _ endpoint: String, _ security: SocketSecurity,
                                role: String = "worker") throws -> (Socket, HandshakeMonitor) {
        let socket = try Socket(context, .dealer)
        try socket.apply(security)
        let handshake = try HandshakeMonitor(socket)
        // Queue nothing for a coordinator that is not connected: a hello that cannot leave now is retried later.
        try socket.set(.immediate, 1)
        try socket.set(.maxMessageSize, Limits.messageBytes)
        // The parameter count comes with the welcome; size for a few megabytes of weights meanwhile.
        try socket.useLargeKernelBuffers(messageBytes: 4 << 20)
        do {
            try socket.connect(endpoint)
        } catch let error as ZMQError {
            throw EndpointError(role: role, verb: "connect to", endpoint: endpoint, error: error)
        }
        return (socket, handshake)
    }

    public static var defaultHost: String {
        "\(ProcessInfo.processInfo.hostName) pid \(ProcessInfo.processInfo.processIdentifier)"
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Runs until the coordinator says training is done, or a stop signal makes it leave.
    public func run() throws {
        // The process ignores SIGPIPE (a coordinator gone shows as EPIPE on the answer pipe) and,
        // when the worker leaves on a stop signal, catches it: its command sets that up.
        while true {
            if leavesOnStopSignal, dptrain_stop_requested() != 0, machine.isRunning {
                try perform(machine.stopRequested(now: Self.now()))
                logger.info("leaving after \(counted(stepsDone, "step")), as asked by signal \(dptrain_stop_requested())")
            }
            switch machine.state {
            case .stopped(.trainingDone):
                logger.info("training is done after \(counted(stepsDone, "step"))")
                return
            case .stopped(.left):
                if stepsDone == 0 && machine.workerID == 0 { throw WorkerError.stopped }
                return
            case .failed(let failure):
                throw WorkerError(failure, endpoint: endpoint)
            case .joining, .joined:
                break
            }
            if !machine.isJoined, let failure = try handshake.failure() {
                throw HandshakeError(endpoint: endpoint, publicKey: security.publicKey, failure: failure)
            }
            try perform(machine.tick(now: Self.now()))
            let wait = machine.nanosecondsUntilDue(now: Self.now()) / 1_000_000
            if try socket.receive(into: message, .dontWait) {
                try handleFromSocket()
            } else if try ringDoorbell() == 0 {
                try waitForMessages(milliseconds: Int(min(wait, 200)) + 1)
            }
        }
    }

    func perform(_ actions: [WorkerStateMachine.Action]) throws {
        for action in actions {
            switch action {
            case .sendHello(let previous):
                let offer = offersSharedMemory ? SharedMemoryOffer(hostIdentity: SharedSegment.hostIdentity) : nil
                try encoder.hello(Hello(previousWorkerID: previous, host: host, blasCore: BLAS.coreName,
                                        acceptsOtherKernels: acceptsOtherKernels, computesBF16: BF16Support.isAvailable,
                                        threads: UInt16(threads), sharedMemory: offer))
                if !saidWaiting {
                    logger.info("waiting for a coordinator at \(endpoint); retrying with backoff")
                    saidWaiting = true
                }
                _ = try encoder.withFrames { try socket.send($0, .dontWait) }
            case .sendHeartbeat:
                encoder.signal(.heartbeat, runID: runID)
                _ = try encoder.withFrames { try socket.send($0, .dontWait) }
            case .sendGoodbye:
                encoder.signal(.goodbye, runID: runID)
                sendLastWord()
            case .reconnect:
                // Start over on a fresh connection, under the same id: the old one may hold a dead coordinator's queue.
                logger.warning("lost the coordinator at \(endpoint); rejoining")
                (socket, handshake) = try Worker.connectedSocket(context, endpoint, security)
                doorbell = nil   // a new coordinator grants its own
                runID = 0
                leaveServers()
            case let .explainWait(waited, left):
                // Brings the monitor's view of the connection up to date; a failed handshake ends the wait.
                if let failure = try handshake.failure() {
                    throw HandshakeError(endpoint: endpoint, publicKey: security.publicKey, failure: failure)
                }
                let why = ConnectionDiagnosis.explain(endpoint: endpoint, connected: handshake.isConnected,
                                                      handshaken: handshake.handshakeSucceeded)
                logger.info("no coordinator at \(endpoint) after \(Int(waited.rounded())) s: \(why); giving up in \(Int(left.rounded())) s")
            }
        }
    }

    /// Waits for the socket or the doorbell, and handles what came.
    private func waitForMessages(milliseconds: Int) throws {
        // The poll set is kept from wait to wait (a step's wait allocates nothing), and made anew
        // for a new socket or doorbell.
        let bell = doorbell?.readDescriptor ?? -1
        let serverItems = bell >= 0 ? 2 : 1
        if pollItems.first?.socket !== socket || (pollItems.count > 1 && bell >= 0 ? pollItems[1].descriptor : -1) != bell
            || pollItems.count != serverItems + servers.count || !zip(pollItems[serverItems...], servers).allSatisfy({ $0.socket === $1.socket }) {
            pollItems = [PollItem(socket)] + (bell >= 0 ? [PollItem(descriptor: bell)] : []) + servers.map { PollItem($0.socket) }
        }
        guard try poll(&pollItems, timeoutMilliseconds: milliseconds) > 0 else { return }
        if pollItems.count > serverItems { try receiveFromServers() }
        if pollItems.count > 1, !pollItems[1].ready.isEmpty { try ringDoorbell() }
        if try socket.receive(into: message, .dontWait) { try handleFromSocket() }
    }

    /// Reads the doorbell without waiting and handles every whole message on it, as if it had
    /// come over the socket; returns how many. End of file (the coordinator is gone) or a stream
    /// out of step is a lost coordinator: the worker closes the pipe (never polling a pipe at
    /// end of file again) and rejoins, as when the coordinator falls silent.
    @discardableResult
    private func ringDoorbell() throws -> Int {
        try receiveFromServers()
        guard let bell = doorbell else { return 0 }
        var handled = 0
        // What came before the end of file is handled first: it was sent.
        var open = bell.receive() == .open
        do {
            while doorbell === bell, try bell.reader.next({ try handle(frames: $0) }) != nil { handled += 1 }
        } catch let error as PipeFramingError {
            logger.warning("the coordinator's doorbell: \(error)")
            open = false
        }
        if !open, doorbell === bell {
            doorbell = nil
            try perform(machine.connectionLost(now: Self.now()))
        }
        return handled
    }

    /// Handles the message just received on the socket.
    private func handleFromSocket() throws {
        // What the coordinator wrote on the doorbell before this message left is handled first:
        // a step's requests are answered in the order they were sent.
        try ringDoorbell()
        guard !message.isTruncated else {
            logger.warning("dropped a message of \(counted(message.receivedFrames, "frame")) from the coordinator")
            return
        }
        try message.withFrames { try handle(frames: $0) }
    }

    /// Sends the message in the encoder, a goodbye or a failure, that may be this process's last:
    /// through the doorbell when there is one, so that the coordinator reads it before the end of
    /// file this process's exit leaves on that pipe (over the socket it could arrive after it, and
    /// the worker be taken for a lost connection, its word dropped as a stranger's); else the socket.
    func sendLastWord() {
        if let bell = doorbell, encoder.withHeaderAndMeta({ bell.send(header: $0, meta: $1) }) == .sent { return }
        _ = try? encoder.withFrames { try socket.send($0, .dontWait) }
    }

    /// Handles one message, from the socket or the doorbell alike.
    private func handle<Frames: Collection>(frames: Frames) throws where Frames.Element == UnsafeRawBufferPointer {
        let envelope: Envelope
        do {
            var context = DecodeContext(receiver: .worker, runID: runID, parameterCount: coordinatorBulkCount,
                                        shardCount: shard?.count ?? 0, precision: configuration?.precision ?? .float32)
            // Weights in shared memory are read only when the segment holds the message's step whole.
            context.sharedBulk = shared?.weights
            envelope = try decode(frames: frames, context: context)
        } catch WireError.unsupportedVersion(let version) {
            try perform(machine.receiveOtherVersion(version, now: Self.now()))
            return
        } catch {
            logger.warning("dropped a message from the coordinator: \(error)")
            return
        }
        if let drop = faults.dropIncoming, drop(envelope.header.type) { return }
        let now = Self.now()
        machine.heard(now: now)
        switch envelope.body {
        case .welcome(let welcome):
            guard !machine.isJoined else { return }
            try accept(welcome, runID: envelope.header.runID)
        case .refuse(let refusal):
            try perform(machine.receiveRefusal(refusal.reason, refusal.text, runID: envelope.header.runID, now: now))
        case .shard(let view):
            guard let configuration else { return }
            guard view.features == configuration.featureCount, view.classCount <= configuration.training.model.classCount else {
                logger.warning("dropped a shard of \(view.features) features and \(view.classCount) classes, which does not fit the model")
                return
            }
            let featureType = FeatureType(rawValue: view.featureType.rawValue)!
            if shard == nil {
                shard = LabeledImages.empty(featureType: featureType, featureCount: view.features, classCount: configuration.classCount)
                    .withByteScale(view.byteScale)
            }
            guard shard!.featureType == featureType, shard!.byteScale == view.byteScale else {
                logger.warning("dropped a shard of \(featureType) features scaled by \(view.byteScale): the samples held are \(shard!.featureType) scaled by \(shard!.byteScale)")
                return
            }
            shard!.append(features: view.pixels, labels: view.labels)
            logger.info("holding \(shard!.count) samples (\(view.count) new)")
        case .step(let view):
            guard shard != nil else {
                logger.warning("dropped step \(envelope.step): no shard yet")
                return
            }
            if servers.isEmpty {
                try answer(view, step: envelope.step)
            } else {
                try queue(view, step: envelope.step)
            }
        case .shutdown:
            try perform(machine.receiveShutdown(now: now))
        default:
            break
        }
    }

    private func accept(_ welcome: Welcome, runID: UInt64) throws {
        let configuration = try RunConfiguration.decode(welcome.configuration, parameterCount: welcome.parameterCount)
        guard machine.receiveWelcome(workerID: welcome.workerID, runID: runID,
                                     silenceSeconds: configuration.coordinatorSilenceSeconds, now: Self.now()) else { return }
        let training = configuration.training
        self.configuration = configuration
        self.runID = runID
        parameterCount = configuration.training.model.parameterCount
        coordinatorBulkCount = configuration.parameterServers == nil ? parameterCount : 0
        shard = nil   // the coordinator sends this worker's samples anew after every welcome
        doorbell = nil
        do {
            // Only a grant this worker asked for: its pid and descriptors come from the network.
            let grant = offersSharedMemory ? welcome.sharedMemory : nil
            shared = try grant.map {
                try WorkerSharedMemory($0, weightBytes: welcome.parameterCount * configuration.precision.bytesPerValue,
                                       gradientBytes: welcome.parameterCount * gradientBytesPerValue)
            }
            doorbell = try grant.map {
                try Doorbell.openForWorker(pid: Int32(bitPattern: $0.pid), stepPipe: Int32(bitPattern: $0.stepPipeDescriptor),
                                           answerPipe: Int32(bitPattern: $0.answerPipeDescriptor))
            }
        } catch {
            throw WorkerError.sharedMemory("\(error)")
        }
        if chunks?.threads != threads || chunks?.capacity != training.largestChunk || chunks?.sum.format != training.fixedPointFormat(for: configuration.precision) {
            chunks = nil   // its threads end before the new team's start
            chunks = ChunkedGradient(spec: training.model, largestChunk: training.largestChunk, format: training.fixedPointFormat(for: configuration.precision),
                                     compute: training.computePrecision, threads: threads)
        }
        alignedParameters = [Float](repeating: 0, count: welcome.parameterCount)
        chunkIndices = [Int32](repeating: 0, count: training.largestChunk * training.shardCount)
        chunkSizes = [Int](repeating: 0, count: training.shardCount)
        try joinServers(configuration.parameterServers ?? [], parameterCount: welcome.parameterCount)
        monitor?.joined(runID: runID, member: machine.workerID)
        logger.info("joined as worker \(machine.workerID): \(training.model.summary), batch \(training.batchSize) over \(counted(training.shardCount, "shard")), computing on \(counted(threads, "thread"))")
        if let core = configuration.blasCore, core != BLAS.coreName {
            logger.warning("worker \(machine.workerID): computing on \(BLAS.coreName) BLAS kernels in a run on \(core), as --accept-other-kernels allows: the weights may differ in the last bits from one process's")
        }
    }

    /// Forward and backward over each of the step's chunks alone, their exact fixed-point sum back.
    private func answer(_ step: StepView, step number: UInt64) throws {
        guard let chunks, let shard else { return }
        guard step.chunkSizes.allSatisfy({ Int($0) <= chunks.capacity }) else {
            logger.warning("dropped step \(number): a chunk larger than the run's \(chunks.capacity) samples")
            return
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var score: BatchScore?
        if let weights = step.parameters.alignedFloat32 {
            // Read the weights where libzmq received them: no copy.
            score = addChunks(of: step, shard: shard, parameters: weights)
        } else {
            alignedParameters.withUnsafeMutableBufferPointer { step.parameters.copy(into: $0) }
            score = alignedParameters.withUnsafeBufferPointer { addChunks(of: step, shard: shard, parameters: $0.baseAddress!) }
        }
        if faults.stepDelay > 0 { Thread.sleep(forTimeInterval: faults.stepDelay) }
        let computeNanoseconds = DispatchTime.now().uptimeNanoseconds - start
        if let score { monitor?.answered(samples: score.samples, computeNanoseconds: computeNanoseconds) }
        faults.beforeAnswer?(number)
        guard var score else {
            // Tell the coordinator, which stops the run with the reason, rather than leave it waiting.
            try? encoder.failure("the loss or a gradient became NaN, infinite or too large to sum exactly at step \(number): training diverged; restart with a lower --lr",
                                 runID: runID, step: number)
            sendLastWord()
            throw WorkerError.lossNotFinite(step: number)
        }
        var sum = chunks.sum
        faults.lie?(number, &sum, &score)
        // Each sum goes as the fewest bytes that hold every one (5 of 8 in a converging run, 2 in a
        // bf16 one), through the slot or the socket: the same integers, so the same weights, in
        // fewer bytes to move.
        let width = sum.packedWidth
        var throughSlot = false
        if let shared {
            // The coordinator rewrites the weights only after this step: if it did, this step is over.
            let fromSharedWeights = step.parameters.bytes.baseAddress == UnsafeRawPointer(shared.weights.data.baseAddress)
            guard !fromSharedWeights || shared.weightsHold(step: number, bytes: weightBytes) else { return }
            throughSlot = self.shared?.publish(sum, width: width, step: number) ?? false
        }
        try encoder.gradient(runID: runID, step: number, sampleCount: UInt32(score.samples), lossSum: score.lossSum,
                             computeNanoseconds: computeNanoseconds, parameterCount: sum.values.count,
                             bulkInSharedMemory: throughSlot, correct: UInt32(score.correct), valueBytes: width)
        if throughSlot, let bell = doorbell {
            // Straight to the coordinator's waiting thread, past libzmq's I/O threads.
            switch encoder.withHeaderAndMeta({ bell.send(header: $0, meta: $1) }) {
            case .sent:
                machine.sent(now: Self.now())
                stepsDone += 1
                return
            case .full:
                try perform(machine.sendFailed(now: Self.now()))
                return
            case .broken:
                doorbell = nil
                try perform(machine.connectionLost(now: Self.now()))
                return
            case .tooLarge:
                break   // cannot happen for an answer's few fields; the socket carries it
            }
        }
        // Through the slot, the message says only that the slot holds the step; otherwise it carries
        // the sums, packed straight into the frame libzmq sends (no copy of them in between).
        // Never block: with no coordinator connected a blocking send would wait for one forever.
        let sent: Bool
        if throughSlot {
            sent = try encoder.withFrames(bulk: UnsafeRawBufferPointer(start: nil, count: 0)) { try socket.send($0, $1, $2, .dontWait) }
        } else {
            let sums = sum
            let frame = try SharedFrame(count: sums.values.count * width) { sums.pack(width: width, into: $0) }
            sent = try encoder.withHeaderAndMeta { try socket.send($0, $1, then: frame, .dontWait) }
        }
        if sent { machine.sent(now: Self.now()) } else { try perform(machine.sendFailed(now: Self.now())) }
        stepsDone += 1
    }
    /// Each of the step's chunks alone into `chunks`' exact sum, shared among the threads; the
    /// step's score, or nil when a chunk diverged.
    private func addChunks(of step: StepView, shard: LabeledImages, parameters: UnsafePointer<Float>) -> BatchScore? {
        guard load(step) else { return nil }
        return addChunks(epoch: step.epoch, rows: step.indices.count, chunkCount: step.chunkSizes.count, shard: shard, parameters: parameters)
    }

    /// The step's rows and chunk sizes (and chunk numbers) into this worker's own buffers, out of
    /// the message they came in; false when they do not fit them.
    func load(_ step: StepView) -> Bool {
        guard step.chunkSizes.count <= chunkSizes.count, step.indices.count <= chunkIndices.count else { return false }
        for (index, size) in step.chunkSizes.enumerated() { chunkSizes[index] = Int(size) }
        for (row, index) in step.indices.enumerated() { chunkIndices[row] = Int32(index) }
        stepChunkNumbers.removeAll(keepingCapacity: true)
        stepChunkNumbers.append(contentsOf: step.chunks)
        return true
    }

    /// The loaded step's chunks, each alone, into `chunks`' exact sum, shared among the threads.
    func addChunks(epoch: UInt32, rows: Int, chunkCount: Int, shard: LabeledImages, parameters: UnsafePointer<Float>) -> BatchScore? {
        guard let chunks else { return nil }
        chunks.reset()
        if chunks.augmentation?.epoch != Int(epoch) { chunks.augmentation = configuration?.training.augmentation(epoch: Int(epoch)) }
        if chunks.dropout?.epoch != Int(epoch) { chunks.dropout = configuration?.training.dropout(epoch: Int(epoch)) }
        return chunkIndices.withUnsafeBufferPointer { indices in
            chunkSizes.withUnsafeBufferPointer { sizes in
                chunks.addChunks(UnsafeBufferPointer(rebasing: indices[0..<rows]), sizes: UnsafeBufferPointer(rebasing: sizes[0..<chunkCount]),
                                 of: shard, parameters: parameters)
            }
        }
    }
}

public enum WorkerError: Error, CustomStringConvertible, Equatable {
    case coordinatorSilent(endpoint: String, seconds: Double)
    case refused(endpoint: String, reason: String)
    /// The coordinator runs another release (its protocol version when its header said it).
    case otherRelease(endpoint: String, coordinatorVersion: UInt16?, text: String)
    case lossNotFinite(step: UInt64)
    case sharedMemory(String)
    case serverNeedsKeys(endpoint: String)
    case stopped

    public var description: String {
        switch self {
        case let .coordinatorSilent(endpoint, seconds):
            return "worker: heard nothing from a coordinator at \(endpoint) for \(Int(seconds)) s; giving up (is it running, and is the endpoint right?)"
        case let .refused(endpoint, reason):
            return "worker: the coordinator at \(endpoint) refused this worker: \(reason)"
        case let .otherRelease(endpoint, version?, _):
            return "worker: the coordinator at \(endpoint) speaks dptrain protocol version \(version) and this worker version \(protocolVersion): "
                + "they are different releases; run the same dptrain release on every machine"
        case let .otherRelease(endpoint, nil, text):
            return "worker: the coordinator at \(endpoint) refused this worker: \(text)"
        case let .lossNotFinite(step):
            return "worker: the loss or a gradient became NaN, infinite or too large to sum exactly at step \(step): training diverged; restart with a lower --lr"
        case let .sharedMemory(reason):
            return "worker: \(reason); start the worker with --shared-memory off to take the weights over the socket"
        case .serverNeedsKeys(let endpoint):
            return "worker: the run's parameter server at \(endpoint) takes only members with keys: start the worker with --key and --coordinator-key"
        case .stopped:
            return "worker: stopped by a signal before joining a run"
        }
    }
}

extension WorkerError {
    /// Why a worker (or a simulated one) whose state machine failed stops.
    init(_ failure: WorkerStateMachine.Failure, endpoint: String) {
        switch failure {
        case .coordinatorSilent(let seconds): self = .coordinatorSilent(endpoint: endpoint, seconds: seconds)
        case .refused(_, let text): self = .refused(endpoint: endpoint, reason: text)
        case let .otherRelease(version, text): self = .otherRelease(endpoint: endpoint, coordinatorVersion: version, text: text)
        }
    }
}

/// What a worker tells a watcher as it works: plain calls on its own thread, which must not wait.
public protocol WorkerMonitor: AnyObject {
    func joined(runID: UInt64, member: UInt32)
    func answered(samples: Int, computeNanoseconds: UInt64)
}
