import CSignals
import Dataset
import Foundation
import Logging
import MLP
import Wire
import ZMQ

/// A worker's loop: says hello to the coordinator (retrying with backoff until
/// one answers), takes its configuration and samples, then answers every step
/// with the gradient sum of its batch, until told training is done. It sends a
/// heartbeat when it has been quiet for a second; when its coordinator has been
/// silent for `silenceTimeout` it says hello again, under the same id, to
/// whichever coordinator answers there (a restarted one resumes with it).
public final class Worker {
    public let endpoint: String
    /// Silence from any coordinator after which the worker gives up.
    public let giveUpAfterSeconds: Double
    /// Seconds without a word from the coordinator (which sends heartbeats every second) before
    /// rejoining; the coordinator's welcome may ask for longer.
    public static let defaultSilenceTimeout = 5.0
    private var silenceTimeout = Worker.defaultSilenceTimeout
    /// Set when a gradient could not be sent: the coordinator's connection is gone.
    private var coordinatorGone = false

    private let context: Context
    private var socket: Socket
    private let logger: Logger
    private let host: String
    private var encoder = MessageEncoder()
    private let message = Message(maxFrames: framesPerMessage)

    // Set by the welcome and the shards.
    private var runID: UInt64 = 0
    /// Kept across coordinators, so that a restarted one gives this worker its place back.
    private var workerID: UInt32 = 0
    private var joined = false
    private var configuration: RunConfiguration?
    private var workspace: Workspace?
    private var shard: LabeledImages?
    private var gradient: [Float] = []
    private var batchIndices: [Int32] = []
    private var batchLabels: [UInt8] = []
    /// Where the step's parameters are copied when libzmq's buffer is not aligned for floats.
    private var alignedParameters: [Float] = []

    public private(set) var stepsDone = 0
    /// Seconds added to each step's compute, for tests that need a slow worker (a straggler).
    public var testStepDelay: Double = 0
    /// Leave cleanly at the end of the step in hand on SIGTERM or SIGINT.
    private let leavesOnStopSignal: Bool
    private var lastSent: UInt64 = 0
    private var lastHeard: UInt64 = DispatchTime.now().uptimeNanoseconds

    /// Connects (lazily: nothing needs to listen yet) to the coordinator at `endpoint`.
    public init(endpoint: String, context: Context, logger: Logger, giveUpAfterSeconds: Double = 300,
                host: String = Worker.defaultHost, leavesOnStopSignal: Bool = false) throws {
        self.endpoint = endpoint
        self.context = context
        self.logger = logger
        self.giveUpAfterSeconds = giveUpAfterSeconds
        self.leavesOnStopSignal = leavesOnStopSignal
        self.host = String(host.utf8.prefix(Limits.hostBytes)) ?? "worker"
        socket = try Worker.connectedSocket(context, endpoint)
    }

    private static func connectedSocket(_ context: Context, _ endpoint: String) throws -> Socket {
        let socket = try Socket(context, .dealer)
        // Queue nothing for a coordinator that is not connected: a hello that cannot leave now is retried later.
        try socket.set(.immediate, 1)
        try socket.set(.maxMessageSize, Limits.messageBytes)
        // The parameter count comes with the welcome; size for a few megabytes of weights meanwhile.
        try socket.useLargeKernelBuffers(messageBytes: 4 << 20)
        do {
            try socket.connect(endpoint)
        } catch let error as ZMQError {
            throw EndpointError(role: "worker", verb: "connect to", endpoint: endpoint, error: error)
        }
        return socket
    }

    public static var defaultHost: String {
        "\(ProcessInfo.processInfo.hostName) pid \(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Runs until the coordinator says training is done, or a stop signal makes it leave.
    public func run() throws {
        if leavesOnStopSignal { dptrain_catch_stop_signals() }
        lastHeard = DispatchTime.now().uptimeNanoseconds
        while true {
            try join()
            if try serve() == .done { return }
            // The coordinator went quiet: start over on a fresh connection, under the same id.
            logger.warning("worker \(workerID): lost the coordinator at \(endpoint); rejoining")
            socket = try Worker.connectedSocket(context, endpoint)
            joined = false
            coordinatorGone = false
            runID = 0
        }
    }

    /// Answers the coordinator until training is done (.done) or it goes quiet (.carryOn).
    private func serve() throws -> Outcome {
        while true {
            if leavesOnStopSignal, dptrain_stop_requested() != 0 {
                encoder.signal(.goodbye, runID: runID)
                _ = try? encoder.withFrames { try socket.send($0, .dontWait) }
                logger.info("worker \(workerID): leaving after \(stepsDone) steps, as asked by signal \(dptrain_stop_requested())")
                return .done
            }
            let received = try socket.receive(into: message, .dontWait) || waitForMessage(milliseconds: 200)
            let now = DispatchTime.now().uptimeNanoseconds
            if received {
                lastHeard = now
                if try handle() == .done { return .done }
                if coordinatorGone { return .carryOn }
                continue
            }
            if Double(now - lastSent) / 1e9 >= CoordinatorOptions.heartbeatInterval {
                encoder.signal(.heartbeat, runID: runID)
                _ = try encoder.withFrames { try socket.send($0, .dontWait) }
                lastSent = now
            }
            if Double(now - lastHeard) / 1e9 > silenceTimeout { return .carryOn }
        }
    }

    /// Says hello until a welcome arrives, backing off from 0.1 s to 2 s between tries;
    /// gives up when no coordinator has been heard for `giveUpAfterSeconds`.
    private func join() throws {
        var backoff = 0.1
        var saidWaiting = false
        while !joined {
            if leavesOnStopSignal, dptrain_stop_requested() != 0 { throw WorkerError.stopped }
            try encoder.hello(Hello(previousWorkerID: workerID, host: host))
            let sent = try encoder.withFrames { try socket.send($0, .dontWait) }
            if sent, try waitForMessage(milliseconds: Int(backoff * 1000)) {
                _ = try handle()
                if joined { continue }
                // Refused for now (its old connection still counts as live): back off before asking again.
                Thread.sleep(forTimeInterval: backoff)
            } else if !sent {
                Thread.sleep(forTimeInterval: backoff)
            }
            if !saidWaiting {
                logger.info("waiting for a coordinator at \(endpoint); retrying with backoff")
                saidWaiting = true
            }
            if Double(DispatchTime.now().uptimeNanoseconds - lastHeard) / 1e9 > giveUpAfterSeconds {
                throw WorkerError.coordinatorSilent(endpoint: endpoint, seconds: giveUpAfterSeconds)
            }
            backoff = min(backoff * 2, 2)
        }
        lastHeard = DispatchTime.now().uptimeNanoseconds
    }

    private func waitForMessage(milliseconds: Int) throws -> Bool {
        var items = [PollItem(socket)]
        guard try poll(&items, timeoutMilliseconds: milliseconds) > 0 else { return false }
        return try socket.receive(into: message, .dontWait)
    }

    private enum Outcome { case carryOn, done }

    /// Handles the message just received.
    private func handle() throws -> Outcome {
        guard !message.isTruncated else {
            logger.warning("dropped a message of \(message.receivedFrames) frames from the coordinator")
            return .carryOn
        }
        let envelope: Envelope
        do {
            envelope = try decode(frames: message, context: DecodeContext(
                receiver: .worker, runID: runID, parameterCount: configuration?.training.model.parameterCount ?? 0,
                shardCount: shard?.count ?? 0))
        } catch {
            logger.warning("dropped a message from the coordinator: \(error)")
            return .carryOn
        }
        switch envelope.body {
        case .welcome(let welcome):
            guard !joined else { return .carryOn }
            try accept(welcome, runID: envelope.header.runID)
        case .refuse(let refusal):
            // The coordinator still counts this worker's old connection as live: it will declare it lost, then take us back.
            if refusal.reason == .duplicateID { return .carryOn }
            // A new coordinator answers at the endpoint: rejoin it now rather than after the silence timeout.
            if refusal.reason == .otherRun {
                if joined { coordinatorGone = true }
                return .carryOn
            }
            throw WorkerError.refused(endpoint: endpoint, reason: refusal.text)
        case .shard(let view):
            guard let configuration else { return .carryOn }
            guard view.features == configuration.featureCount, view.classCount <= configuration.training.model.classCount else {
                logger.warning("dropped a shard of \(view.features) features and \(view.classCount) classes, which does not fit the model")
                return .carryOn
            }
            if shard == nil {
                shard = LabeledImages(pixels: [], labels: [], featureCount: view.features, classCount: configuration.classCount)
            }
            shard!.append(pixels: view.pixels, labels: view.labels)
            logger.info("worker \(workerID): holding \(shard!.count) samples (\(view.count) new)")
        case .step(let view):
            guard shard != nil else {
                logger.warning("dropped step \(envelope.step): no shard yet")
                return .carryOn
            }
            try answer(view, step: envelope.step)
        case .shutdown:
            logger.info("worker \(workerID): training is done after \(stepsDone) steps")
            return .done
        default:
            break
        }
        return .carryOn
    }

    private func accept(_ welcome: Welcome, runID: UInt64) throws {
        let configuration = try RunConfiguration.decode(welcome.configuration, parameterCount: welcome.parameterCount)
        let batch = configuration.training.batchSize
        self.configuration = configuration
        self.runID = runID
        workerID = welcome.workerID
        joined = true
        silenceTimeout = max(Worker.defaultSilenceTimeout, configuration.coordinatorSilenceSeconds ?? 0)
        shard = nil   // the coordinator sends this worker's samples anew after every welcome
        workspace = Workspace(spec: configuration.training.model, capacity: batch)
        gradient = [Float](repeating: 0, count: welcome.parameterCount)
        alignedParameters = [Float](repeating: 0, count: welcome.parameterCount)
        batchIndices = [Int32](repeating: 0, count: batch)
        batchLabels = [UInt8](repeating: 0, count: batch)
        logger.info("joined as worker \(workerID): \(configuration.training.model.summary), batch \(batch)")
    }

    /// Forward and backward over the step's samples, and the gradient sum back.
    private func answer(_ step: StepView, step number: UInt64) throws {
        guard let workspace, let shard else { return }
        let rows = step.indices.count
        guard rows > 0, rows <= workspace.capacity else {
            logger.warning("dropped step \(number): \(rows) samples for a batch of \(workspace.capacity)")
            return
        }
        let start = DispatchTime.now().uptimeNanoseconds
        for (row, index) in step.indices.enumerated() { batchIndices[row] = Int32(index) }
        batchIndices.withUnsafeBufferPointer { indices in
            batchLabels.withUnsafeMutableBufferPointer { labels in
                shard.gather(UnsafeBufferPointer(rebasing: indices[0..<rows]), inputs: workspace.input, labels: labels.baseAddress!)
            }
        }
        let bytes = step.parameters.bytes
        let score: BatchScore
        if Int(bitPattern: bytes.baseAddress) % MemoryLayout<Float>.alignment == 0 {
            // Read the weights where libzmq received them: no copy.
            score = workspace.gradient(parameters: bytes.baseAddress!.assumingMemoryBound(to: Float.self),
                                       labels: batchLabels, rows: rows, into: &gradient)
        } else {
            alignedParameters.withUnsafeMutableBufferPointer { step.parameters.copy(into: $0) }
            score = workspace.gradient(parameters: alignedParameters, labels: batchLabels, rows: rows, into: &gradient)
        }
        if testStepDelay > 0 { Thread.sleep(forTimeInterval: testStepDelay) }
        let computeNanoseconds = DispatchTime.now().uptimeNanoseconds - start
        guard score.lossSum.isFinite else {
            // Tell the coordinator, which stops the run with the reason, rather than leave it waiting.
            try? encoder.failure("the loss became NaN or infinite at step \(number): training diverged; restart with a lower --lr",
                                 runID: runID, step: number)
            _ = try? encoder.withFrames { try socket.send($0, .dontWait) }
            throw WorkerError.lossNotFinite(step: number)
        }
        try encoder.gradient(runID: runID, step: number, sampleCount: UInt32(rows), lossSum: score.lossSum,
                             computeNanoseconds: computeNanoseconds, parameterCount: gradient.count)
        try gradient.withUnsafeBytes { bulk in
            // Never block: with no coordinator connected a blocking send would wait for one forever.
            coordinatorGone = try !encoder.withFrames(bulk: bulk) { header, meta, bulk in
                try socket.send(header, meta, bulk, .dontWait)
            }
        }
        lastSent = DispatchTime.now().uptimeNanoseconds
        stepsDone += 1
    }
}

public enum WorkerError: Error, CustomStringConvertible, Equatable {
    case coordinatorSilent(endpoint: String, seconds: Double)
    case refused(endpoint: String, reason: String)
    case lossNotFinite(step: UInt64)
    case stopped

    public var description: String {
        switch self {
        case let .coordinatorSilent(endpoint, seconds):
            return "worker: heard nothing from a coordinator at \(endpoint) for \(Int(seconds)) s; giving up (is it running, and is the endpoint right?)"
        case let .refused(endpoint, reason):
            return "worker: the coordinator at \(endpoint) refused this worker: \(reason)"
        case let .lossNotFinite(step):
            return "worker: the loss became NaN or infinite at step \(step): training diverged; restart with a lower --lr"
        case .stopped:
            return "worker: stopped by a signal before joining a run"
        }
    }
}
