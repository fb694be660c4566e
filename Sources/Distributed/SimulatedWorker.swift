import Foundation
import MLP
import Roles
import Wire
import ZMQ

/// A stand-in worker for measuring what the coordinator alone can carry: it joins like a
/// worker, over its own socket, and answers every step at once with a gradient stored at
/// its welcome, computing nothing and checking nothing but the header. Only for
/// `dptrain bench ceiling`: the coordinator it talks to is the real one.
///
/// Its decisions about the coordinator (hello with backoff, heartbeats, rejoining one that
/// went silent, restarted or closed its doorbell, giving up, refusals, shutdown) are
/// `WorkerStateMachine`'s, as a real `Worker`'s are; only the compute is replaced.
public final class SimulatedWorker {
    private let endpoint: String
    private let context: Context
    private var socket: Socket
    private let message = Message(maxFrames: framesPerMessage)
    private var encoder = MessageEncoder()
    private var machine: WorkerStateMachine
    private var runID: UInt64 = 0
    private var parameterCount = 0
    /// The stored gradient: fixed-point sums of a converging run's size on the run's grid,
    /// packed as a real worker packs them, in its slot or over its socket (5 bytes a value on
    /// the fine grid, 2 on a bf16 run's). Packed once, at the welcome: the coordinator's cost
    /// is what is measured, not the workers'.
    private var packed: [UInt8] = []
    private var packedWidth = gradientBytesPerValue
    private let offersSharedMemory: Bool
    /// The segments, when the coordinator granted shared memory: the stored gradient is written
    /// into the slot once, and each step only publishes it anew.
    private var shared: WorkerSharedMemory?
    /// The doorbell that comes with shared memory: steps and answers over pipes, as a real
    /// worker on the coordinator's host takes them.
    private var doorbell: Doorbell?
    private var pollItems: [PollItem] = []
    /// In a run with parameter servers: each server's connection, range and the step its last
    /// weights are for, the stored gradient's slice for it, and the step waiting for them.
    private var servers: [(socket: Socket, range: Range<Int>, step: UInt64, slice: [UInt8], width: Int)] = []
    private var waiting: (step: UInt64, samples: UInt32, chunks: [UInt32])?
    private let serverMessage = Message(maxFrames: framesPerMessage)

    public init(endpoint: String, context: Context, sharedMemory: Bool, giveUpAfterSeconds: Double = 60) throws {
        self.endpoint = endpoint
        self.context = context
        offersSharedMemory = sharedMemory && !SharedSegment.hostIdentity.isEmpty
        machine = WorkerStateMachine(giveUpAfterSeconds: giveUpAfterSeconds, now: Worker.now())
        socket = try Self.connectedSocket(context, endpoint)
    }

    private static func connectedSocket(_ context: Context, _ endpoint: String) throws -> Socket {
        let socket = try Socket(context, .dealer)
        // As a real worker's: nothing queued for a coordinator that is not connected.
        try socket.set(.immediate, 1)
        try socket.set(.maxMessageSize, Limits.messageBytes)
        try socket.useLargeKernelBuffers(messageBytes: 4 << 20)
        try socket.connect(endpoint)
        return socket
    }

    /// Joins and answers steps until its state machine stops: training is done (returns), or the
    /// coordinator is gone for good or refused it (throws, as a worker would).
    public func run() throws {
        while true {
            switch machine.state {
            case .stopped:
                return
            case .failed(let failure):
                throw WorkerError(failure, endpoint: endpoint)
            case .joining, .joined:
                break
            }
            try perform(machine.tick(now: Worker.now()))
            let wait = machine.nanosecondsUntilDue(now: Worker.now()) / 1_000_000
            let bell = doorbell?.readDescriptor ?? -1
            if pollItems.first?.socket !== socket || (pollItems.count > 1 && bell >= 0 ? pollItems[1].descriptor : -1) != bell
                || pollItems.count != (bell >= 0 ? 2 : 1) + servers.count {
                pollItems = [PollItem(socket)] + (bell >= 0 ? [PollItem(descriptor: bell)] : []) + servers.map { PollItem($0.socket) }
            }
            guard try poll(&pollItems, timeoutMilliseconds: Int(min(wait, 100)) + 1) > 0 else { continue }
            if bell >= 0, !pollItems[1].ready.isEmpty { try ringDoorbell() }
            try receiveWeights()
            while machine.isRunning, try socket.receive(into: message, .dontWait) {
                guard !message.isTruncated else { continue }
                try handle(frames: message)
            }
        }
    }

    private func perform(_ actions: [WorkerStateMachine.Action]) throws {
        for action in actions {
            switch action {
            case .sendHello(let previous):
                let offer = offersSharedMemory ? SharedMemoryOffer(hostIdentity: SharedSegment.hostIdentity) : nil
                try encoder.hello(Hello(previousWorkerID: previous, host: "simulated worker", blasCore: BLAS.coreName, sharedMemory: offer))
                _ = try encoder.withFrames { try socket.send($0, .dontWait) }
            case .sendHeartbeat, .sendGoodbye:
                encoder.signal(action == .sendHeartbeat ? .heartbeat : .goodbye, runID: runID)
                _ = try? encoder.withFrames { try socket.send($0, .dontWait) }
            case .reconnect:
                // A fresh connection, as a worker's: the old one may hold a dead coordinator's queue.
                socket = try Self.connectedSocket(context, endpoint)
                doorbell = nil
                shared = nil
                servers = []
                waiting = nil
                runID = 0
            case .explainWait:
                break   // a thread of the bench: nobody to tell
            }
        }
    }

    /// Every whole message on the doorbell; its end (the coordinator gone) is a lost connection,
    /// which the machine answers with a rejoin.
    private func ringDoorbell() throws {
        guard let bell = doorbell else { return }
        let open = bell.receive() == .open
        while doorbell === bell, machine.isRunning, try bell.reader.next({ try handle(frames: $0) }) != nil {}
        if !open, doorbell === bell {
            doorbell = nil
            try perform(machine.connectionLost(now: Worker.now()))
        }
    }

    /// Handles one message, from the socket or the doorbell.
    private func handle<Frames: Collection>(frames message: Frames) throws where Frames.Element == UnsafeRawBufferPointer {
        guard message.count == framesPerMessage, let header = try? Header(parsing: message.first!) else { return }
        let meta = message[message.index(after: message.startIndex)]
        let now = Worker.now()
        machine.heard(now: now)
        switch header.type {
        case .welcome:
            guard !machine.isJoined, case .welcome(let welcome) = try decode(frames: message, context: DecodeContext(receiver: .worker)).body else { return }
            try accept(welcome, runID: header.runID, now: now)
        case .step:
            guard machine.isJoined, header.runID == runID, meta.count >= 8 else { return }
            let samples = UInt32(littleEndian: meta.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            if servers.isEmpty { return try answer(step: header.step, samples: samples) }
            // With servers, its slices name the step's chunks: read as a worker reads them.
            var context = DecodeContext(receiver: .worker, runID: runID, shardCount: Int(UInt32.max) + 1)
            context.parameterCount = 0
            guard case .step(let view) = try decode(frames: message, context: context).body else { return }
            waiting = (header.step, samples, Array(view.chunks))
            try answerFromServers()
        case .shutdown:
            try perform(machine.receiveShutdown(now: now))
        case .refuse:
            if case .refuse(let refusal) = try decode(frames: message, context: DecodeContext(receiver: .worker)).body {
                try perform(machine.receiveRefusal(refusal.reason, refusal.text, runID: header.runID, now: now))
            }
        default:
            break
        }
    }

    private func accept(_ welcome: Welcome, runID: UInt64, now: UInt64) throws {
        let configuration = try RunConfiguration.decode(welcome.configuration, parameterCount: welcome.parameterCount)
        guard machine.receiveWelcome(workerID: welcome.workerID, runID: runID,
                                     silenceSeconds: configuration.coordinatorSilenceSeconds, now: now) else { return }
        self.runID = runID
        parameterCount = welcome.parameterCount
        let training = configuration.training
        let gradient = Self.storedGradient(count: parameterCount, chunk: training.largestChunk,
                                           format: training.fixedPointFormat(for: configuration.precision))
        let grant = offersSharedMemory ? welcome.sharedMemory : nil
        shared = try grant.map {
            try WorkerSharedMemory($0, weightBytes: parameterCount * configuration.precision.bytesPerValue,
                                   gradientBytes: parameterCount * gradientBytesPerValue)
        }
        doorbell = try grant.map {
            try Doorbell.openForWorker(pid: Int32(bitPattern: $0.pid), stepPipe: Int32(bitPattern: $0.stepPipeDescriptor),
                                       answerPipe: Int32(bitPattern: $0.answerPipeDescriptor))
        }
        packedWidth = gradient.packedWidth
        servers = []
        for place in configuration.parameterServers ?? [] {
            // As a worker: a connection to each server, made known to it; each gets its range of
            // the stored gradient, packed once.
            let server = try Socket(context, .dealer)
            try server.set(.maxMessageSize, Limits.messageBytes)
            try server.useLargeKernelBuffers(messageBytes: place.count * gradientBytesPerValue)
            try server.connect(place.endpoint)
            encoder.attach(runID: runID, workerID: welcome.workerID)
            _ = try encoder.withFrames { try server.send($0, .dontWait) }
            let range = place.first..<(place.first + place.count)
            let width = gradient.packedWidth(range: range)
            var slice = [UInt8](repeating: 0, count: range.count * width)
            slice.withUnsafeMutableBytes { gradient.pack(range: range, width: width, into: $0) }
            servers.append((server, range, 0, slice, width))
        }
        if !servers.isEmpty { return }
        if shared != nil {
            _ = shared?.publish(gradient, width: packedWidth, step: 0)
        } else {
            packed = [UInt8](repeating: 0, count: parameterCount * packedWidth)
            packed.withUnsafeMutableBytes { gradient.pack(width: packedWidth, into: $0) }
        }
    }

    /// The stored gradient as the answer to `step`: through the doorbell when there is one, as a
    /// real worker answers; over the socket otherwise. What could not leave is the machine's to judge.
    private func answer(step: UInt64, samples: UInt32) throws {
        shared?.slot.publish(sequence: step, length: parameterCount * packedWidth)
        try encoder.gradient(runID: runID, step: step, sampleCount: samples, lossSum: Double(samples),
                             computeNanoseconds: 0, parameterCount: parameterCount, bulkInSharedMemory: shared != nil,
                             valueBytes: packedWidth)
        if let bell = doorbell {
            switch encoder.withHeaderAndMeta({ bell.send(header: $0, meta: $1) }) {
            case .sent:
                return machine.sent(now: Worker.now())
            case .full:
                return try perform(machine.sendFailed(now: Worker.now()))
            case .broken:
                doorbell = nil
                return try perform(machine.connectionLost(now: Worker.now()))
            case .tooLarge:
                break   // the socket carries it
            }
        }
        let sent = try (shared == nil ? packed : []).withUnsafeBytes { bulk in
            try encoder.withFrames(bulk: bulk) { try socket.send($0, $1, $2, .dontWait) }
        }
        if sent { machine.sent(now: Worker.now()) } else { try perform(machine.sendFailed(now: Worker.now())) }
    }

    /// Takes the servers' weights (their step only: the simulated worker computes nothing), and
    /// answers the step waiting for them once every server's are in.
    private func receiveWeights() throws {
        for index in servers.indices {
            while try servers[index].socket.receive(into: serverMessage, .dontWait) {
                guard serverMessage.count == framesPerMessage, let header = try? Header(parsing: serverMessage[0]),
                      header.type == .weights, header.runID == runID else { continue }
                servers[index].step = header.step
            }
        }
        try answerFromServers()
    }

    /// The stored slices to each server and the figures to the coordinator, once every server's
    /// weights for the waiting step are in.
    private func answerFromServers() throws {
        guard let (step, samples, chunks) = waiting, servers.allSatisfy({ $0.step == step }) else { return }
        waiting = nil
        for server in servers {
            try encoder.slice(runID: runID, step: step, workerID: machine.workerID, chunks: chunks, count: server.range.count, valueBytes: server.width)
            _ = try server.slice.withUnsafeBytes { bulk in try encoder.withFrames(bulk: bulk) { try server.socket.send($0, $1, $2, .dontWait) } }
        }
        try encoder.gradient(runID: runID, step: step, sampleCount: samples, lossSum: Double(samples), computeNanoseconds: 0, parameterCount: 0, valueBytes: 1)
        if try encoder.withFrames({ try socket.send($0, .dontWait) }) { machine.sent(now: Worker.now()) } else { try perform(machine.sendFailed(now: Worker.now())) }
    }

    /// Sums of a converging run's size on `format`'s grid, for chunks of `chunk` samples: values
    /// up to chunk/8 in magnitude (a real run's sums of 128 samples stay under 32, which is what
    /// makes them 5 bytes on the fine grid), small enough that the coordinator's weights stay
    /// finite however long it runs.
    public static func storedGradient(count: Int, chunk: Int, format: FixedPointFormat) -> FixedPointSum {
        var sum = FixedPointSum(format: format, count: count)
        let floats = (0..<count).map { Float(($0 % 17) - 8) * Float(chunk) / 64 }
        _ = floats.withUnsafeBufferPointer { sum.add(chunk: $0) }
        return sum
    }
}
