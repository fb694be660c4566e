import Dispatch
import Foundation
import MLP
import Roles
import Training
import Wire
import ZMQ

/// One of the run's parameter servers, as a worker sees it.
struct ServerLink {
    var socket: Socket
    let place: RunConfiguration.ServerPlace
    var first: Int { place.first }
    var count: Int { place.count }
    /// The step the weights this server sent last are for; 0 before any.
    var step: UInt64 = 0
    /// When this connection was made: one that has brought no weights for a while is made anew.
    var connected: UInt64
}

/// A step the coordinator asked before every server's weights for it were in: its rows and chunk
/// sizes are in the worker's buffers (`load`).
struct PendingStep {
    let number: UInt64
    let epoch: UInt32
    let rows: Int
    let chunkCount: Int
}

/// A worker in a run with parameter servers: it takes each server's range of the weights from
/// that server, and sends each server its range of the gradient sum (a slice, naming the
/// chunks it sums); the coordinator hears only the step's figures.
extension Worker {
    /// Connects to the run's servers and makes itself known to each: each sends the weights back.
    func joinServers(_ places: [RunConfiguration.ServerPlace], parameterCount: Int) throws {
        leaveServers()
        guard !places.isEmpty else { return }
        serverWeights = [Float](repeating: 0, count: parameterCount)
        for place in places { servers.append(ServerLink(socket: try connect(to: place), place: place, connected: Worker.now())) }
        logger.info("taking the weights from \(counted(places.count, "parameter server")): \(places.map(\.endpoint).joined(separator: ", "))")
    }

    /// A connection to a server, made known to it: the server sends the weights back.
    private func connect(to place: RunConfiguration.ServerPlace) throws -> Socket {
        let socket = try Socket(context, .dealer)
        if let key = place.publicKey {
            // A server with a key takes only the members whose keys the coordinator names.
            guard case let .curveClient(pair, _) = security else { throw WorkerError.serverNeedsKeys(endpoint: place.endpoint) }
            try socket.apply(.curveClient(pair, serverKey: key))
        }
        try socket.set(.maxMessageSize, Limits.messageBytes)
        try socket.useLargeKernelBuffers(messageBytes: place.count * gradientBytesPerValue)
        do {
            try socket.connect(place.endpoint)
        } catch let error as ZMQError {
            throw EndpointError(role: "worker", verb: "connect to parameter server", endpoint: place.endpoint, error: error)
        }
        encoder.attach(runID: runID, workerID: machine.workerID)
        _ = try encoder.withFrames { try socket.send($0, .dontWait) }
        return socket
    }

    /// A server whose weights for the step in hand are late may be a replacement that does not
    /// know this member (the old one was lost): say who it is again, twice a second at most. One
    /// late for longer is connected to anew: its handshake may have been refused (a server that
    /// had not yet been told this member's key), which libzmq does not try again.
    private func attachAgainIfWaiting() throws {
        guard let pending = pendingStep else { return }
        let now = Worker.now()
        guard now &- lastAttach >= 500_000_000 else { return }
        lastAttach = now
        encoder.attach(runID: runID, workerID: machine.workerID)
        for index in servers.indices where servers[index].step < pending.number {
            if now &- servers[index].connected >= Self.serverReconnectInterval {
                logger.info("no weights from the parameter server at \(servers[index].place.endpoint) for \(Int(Liveness.seconds(now &- servers[index].connected))) s: connecting to it anew")
                servers[index].socket = try connect(to: servers[index].place)
                servers[index].connected = now
            } else {
                _ = try encoder.withFrames { try servers[index].socket.send($0, .dontWait) }
            }
        }
    }

    /// How long a connection to a server may bring no weights for the step in hand before it is made anew.
    static let serverReconnectInterval: UInt64 = 2_000_000_000

    func leaveServers() {
        servers = []
        pendingStep = nil
    }

    /// Handles whatever the servers have sent (weights), without waiting.
    func receiveFromServers() throws {
        guard !servers.isEmpty else { return }
        let message = serverMessage
        for index in servers.indices {
            while index < servers.count, try servers[index].socket.receive(into: message, .dontWait) {
                guard !message.isTruncated, message.count == framesPerMessage else { continue }
                do {
                    let context = DecodeContext(receiver: .worker, runID: runID, precision: configuration?.precision ?? .float32)
                    let envelope = try message.withFrames { try decode(frames: $0, context: context) }
                    guard case .weights(let weights) = envelope.body else { continue }
                    guard weights.first == servers[index].first, weights.values.count == servers[index].count else {
                        logger.warning("dropped weights \(weights.first)..<\(weights.first + weights.values.count) from the server of \(servers[index].first)..<\(servers[index].first + servers[index].count)")
                        continue
                    }
                    let range = servers[index].first..<(servers[index].first + servers[index].count)
                    serverWeights.withUnsafeMutableBufferPointer { weights.values.copy(into: UnsafeMutableBufferPointer(rebasing: $0[range])) }
                    servers[index].step = envelope.step
                    servers[index].connected = Worker.now()
                } catch {
                    logger.warning("dropped a message from parameter server \(index + 1): \(error)")
                }
            }
        }
        try answerPendingStep()
    }

    /// A step from the coordinator: answered once every server's weights for it are in.
    func queue(_ step: StepView, step number: UInt64) throws {
        guard let chunks, step.chunkSizes.allSatisfy({ Int($0) <= chunks.capacity }), load(step) else {
            logger.warning("dropped step \(number): its chunks do not fit the run's")
            return
        }
        pendingStep = PendingStep(number: number, epoch: step.epoch, rows: step.indices.count, chunkCount: step.chunkSizes.count)
        lastAttach = Worker.now()
        try receiveFromServers()
    }

    private func answerPendingStep() throws {
        guard let pending = pendingStep, let shard, let chunks else { return }
        // Weights for a later step: this one is over (its answer would be void).
        if servers.contains(where: { $0.step > pending.number }) {
            pendingStep = nil
            return
        }
        guard servers.allSatisfy({ $0.step == pending.number }) else {
            try attachAgainIfWaiting()
            return
        }
        pendingStep = nil
        let start = DispatchTime.now().uptimeNanoseconds
        let scored = serverWeights.withUnsafeBufferPointer {
            addChunks(epoch: pending.epoch, rows: pending.rows, chunkCount: pending.chunkCount, shard: shard, parameters: $0.baseAddress!)
        }
        if faults.stepDelay > 0 { Thread.sleep(forTimeInterval: faults.stepDelay) }
        let computeNanoseconds = DispatchTime.now().uptimeNanoseconds - start
        if let scored { monitor?.answered(samples: scored.samples, computeNanoseconds: computeNanoseconds) }
        faults.beforeAnswer?(pending.number)
        guard var score = scored else {
            try? encoder.failure("the loss or a gradient became NaN, infinite or too large to sum exactly at step \(pending.number): training diverged; restart with a lower --lr",
                                 runID: runID, step: pending.number)
            sendLastWord()
            throw WorkerError.lossNotFinite(step: pending.number)
        }
        var sum = chunks.sum
        faults.lie?(pending.number, &sum, &score)
        // Each server its range of the sum, in the fewest bytes that hold that range's values.
        for server in servers {
            let range = server.first..<(server.first + server.count)
            let width = sum.packedWidth(range: range)
            try encoder.slice(runID: runID, step: pending.number, workerID: machine.workerID, chunks: stepChunkNumbers, count: server.count, valueBytes: width)
            let sums = sum
            let frame = try SharedFrame(count: server.count * width) { sums.pack(range: range, width: width, into: $0) }
            if try !encoder.withHeaderAndMeta({ try server.socket.send($0, $1, then: frame, .dontWait) }) {
                logger.warning("a parameter server is not reading: step \(pending.number)'s slice not sent")
            }
        }
        // The coordinator hears the figures alone.
        try encoder.gradient(runID: runID, step: pending.number, sampleCount: UInt32(score.samples), lossSum: score.lossSum,
                             computeNanoseconds: computeNanoseconds, parameterCount: 0, correct: UInt32(score.correct), valueBytes: 1)
        let sent = try encoder.withFrames(bulk: UnsafeRawBufferPointer(start: nil, count: 0)) { try socket.send($0, $1, $2, .dontWait) }
        if sent { machine.sent(now: Worker.now()) } else { try perform(machine.sendFailed(now: Worker.now())) }
        stepsDone += 1
    }
}
