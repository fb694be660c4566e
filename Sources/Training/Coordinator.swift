import Dataset
import Foundation
import Logging
import MLP
import Wire
import ZMQ

/// The coordinator's loop: binds, waits for its workers, ships each its
/// configuration and shard, then runs synchronous steps (broadcast the
/// weights, gather the gradient sums, add them in worker-id order, divide by
/// the true sample count, step the optimizer) and evaluates after each epoch.
/// The decisions are `CoordinatorStateMachine`'s; this class does the I/O and
/// the arithmetic.
public final class Coordinator {
    public let config: TrainingConfig
    public let endpoint: String
    public private(set) var parameters: [Float]
    public private(set) var machine: CoordinatorStateMachine

    private let train: LabeledImages
    private let test: LabeledImages
    private let socket: Socket
    private let logger: Logger
    private let runID: UInt64
    private let optimizer: Optimizer
    private var encoder = MessageEncoder()
    /// Received messages not in use, reused so that steps allocate nothing.
    private var spareMessages: [Message] = []
    /// The current step's gradients, by slot (worker-id order), each in the message it arrived in.
    private var gradients: [(message: Message, view: GradientView)?] = []
    private var stepBytes: UInt64 = 0
    private var firstGradientArrival: UInt64?
    /// Logged drops per kind, so that a flood of junk cannot flood the log.
    private var loggedDrops: [String: Int] = [:]

    /// Binds `endpoint` (tcp://HOST:PORT or ipc://PATH) on `context`.
    public init(config: TrainingConfig, train: LabeledImages, test: LabeledImages, workers: Int,
                endpoint: String, context: Context, logger: Logger) throws {
        precondition(config.problems.isEmpty)
        guard config.model.inputSize == train.featureCount, config.model.classCount >= train.classCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model \(config.model.summary) does not fit data of \(train.featureCount) pixels and \(train.classCount) classes")
        }
        self.config = config
        self.train = train
        self.test = test
        self.logger = logger
        machine = CoordinatorStateMachine(expectedWorkers: workers)
        parameters = config.model.initialParameters(config.initialization, seed: config.seed)
        optimizer = makeOptimizer(config.optimizer, parameterCount: parameters.count)
        // A fresh id per run, so that a worker's message from an earlier run is told apart.
        runID = UInt64.random(in: 1...UInt64.max)

        socket = try Socket(context, .router)
        try socket.set(.routerMandatory, 1)
        // Nothing legitimate is larger than a gradient; a peer announcing more is cut off by libzmq.
        try socket.set(.maxMessageSize, parameters.count * 4 + 64 * 1024)
        try socket.useLargeKernelBuffers(messageBytes: parameters.count * 4)
        do {
            try socket.bind(endpoint)
        } catch let error as ZMQError {
            throw EndpointError(role: "coordinator", verb: "bind", endpoint: endpoint, error: error)
        }
        self.endpoint = (try? socket.lastEndpoint()) ?? endpoint
    }

    /// libzmq I/O threads for a coordinator of `workers`: every step moves two
    /// weight-sized messages per worker through them, and one thread serves its
    /// connections one after another.
    public static func ioThreads(workers: Int) -> Int32 {
        workers < 2 ? 1 : workers < 8 ? 2 : 4
    }

    /// Trains to the end and tells the workers to exit.
    @discardableResult
    public func run(observer: TrainingObserver? = nil) throws -> TrainingReport {
        logger.info("waiting for \(machine.expectedWorkers) worker(s) on \(endpoint)")
        while !machine.isReadyToStart { try pump(timeoutMilliseconds: 200) }
        machine.startTraining()

        let members = machine.members
        var plan = ShardPlan(sampleCount: train.count, workerCount: members.count, batchSize: config.batchSize, seed: config.seed)
        try sendShards(plan, to: members)
        logger.info("training with \(members.count) worker(s): \(members.map { "\($0.id) (\($0.host))" }.joined(separator: ", "))")

        gradients = Array(repeating: nil, count: members.count)
        var gradientSum = [Float](repeating: 0, count: parameters.count)
        let evaluationWorkspace = Workspace(spec: config.model, capacity: 1000)
        let totalSteps = config.epochs * plan.stepsPerEpoch
        let start = DispatchTime.now().uptimeNanoseconds
        var trainingNanoseconds: UInt64 = 0
        var runScore = BatchScore()
        var runTimings = StepTimings()
        var report = TrainingReport(epoch: 0, step: 0, trainLoss: 0, testAccuracy: 0, samplesPerSecond: 0,
                                    elapsedSeconds: 0, workers: members.count)

        for epoch in 1...config.epochs {
            plan.startEpoch()
            let epochStart = DispatchTime.now().uptimeNanoseconds
            var epochScore = BatchScore()
            var timings = StepTimings()
            for stepInEpoch in 0..<plan.stepsPerEpoch {
                let step = UInt64((epoch - 1) * plan.stepsPerEpoch + stepInEpoch + 1)
                let score = try runStep(step, epoch: epoch, stepInEpoch: stepInEpoch, plan: plan, members: members,
                                        learningRate: config.optimizer.schedule.rate(base: config.optimizer.learningRate,
                                                                                     step: Int(step) - 1, totalSteps: totalSteps),
                                        gradientSum: &gradientSum, timings: &timings)
                guard score.lossSum.isFinite else {
                    throw TrainingError.lossNotFinite(epoch: epoch, step: Int(step), learningRate: config.optimizer.learningRate)
                }
                epochScore += score
                if let observer {
                    let seconds = Double(trainingNanoseconds + DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
                    observer.stepFinished(StepProgress(
                        epoch: epoch, epochs: config.epochs, stepInEpoch: stepInEpoch + 1, stepsPerEpoch: plan.stepsPerEpoch,
                        loss: epochScore.meanLoss, samplesPerSecond: Double(runScore.samples + epochScore.samples) / seconds,
                        elapsedSeconds: seconds))
                }
            }
            trainingNanoseconds += DispatchTime.now().uptimeNanoseconds - epochStart
            runScore += epochScore
            runTimings += timings

            let evaluation = Evaluation(parameters: parameters, data: test, workspace: evaluationWorkspace)
            report = TrainingReport(epoch: epoch, step: Int(machine.step), trainLoss: epochScore.meanLoss,
                                    testAccuracy: evaluation.accuracy,
                                    samplesPerSecond: Double(runScore.samples) / (Double(trainingNanoseconds) / 1e9),
                                    elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                                    workers: members.count, timings: timings)
            observer?.epochFinished(report)
        }
        machine.finish()
        for member in members {
            encoder.signal(.shutdown, runID: runID, step: machine.step)
            try send(to: member.peer)
        }
        if machine.droppedCount > 0 {
            logger.info("dropped \(machine.droppedCount) bad message(s): \(machine.dropped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: "; "))")
        }
        report.trainLoss = runScore.meanLoss
        report.timings = runTimings
        observer?.trainingFinished(report)
        return report
    }

    /// One synchronous step; returns the step's summed score.
    private func runStep(_ step: UInt64, epoch: Int, stepInEpoch: Int, plan: ShardPlan, members: [CoordinatorStateMachine.Member],
                         learningRate: Float, gradientSum: inout [Float], timings: inout StepTimings) throws -> BatchScore {
        var expected: [UInt32] = []
        for (slot, member) in members.enumerated() where !plan.indices(slot: slot, stepInEpoch: stepInEpoch).isEmpty {
            expected.append(member.id)
        }
        machine.beginStep(step, expecting: expected)
        stepBytes = 0

        let broadcastStart = DispatchTime.now().uptimeNanoseconds
        // One copy of the weights into libzmq, shared by every worker's message.
        let weights = try parameters.withUnsafeBytes { try SharedFrame(copying: $0) }
        for (slot, member) in members.enumerated() {
            let indices = plan.indices(slot: slot, stepInEpoch: stepInEpoch)
            guard !indices.isEmpty else { continue }
            try encoder.step(runID: runID, step: step, epoch: UInt32(epoch), indices: indices, parameterCount: parameters.count)
            try member.peer.withUnsafeBytes { address in
                try encoder.withHeaderAndMeta { frames in
                    stepBytes += UInt64(frames.reduce(weights.count) { $0 + $1.count })
                    _ = try socket.send([address] + frames, then: weights)
                }
            }
        }
        let waitStart = DispatchTime.now().uptimeNanoseconds
        firstGradientArrival = nil
        while !machine.isStepComplete { try pump(timeoutMilliseconds: 1000) }

        // Sum in slot order, which is worker-id order: the same order every run.
        let reduceStart = DispatchTime.now().uptimeNanoseconds
        var score = BatchScore()
        var slowest: UInt64 = 0, fastest = UInt64.max
        var first = true
        gradientSum.withUnsafeMutableBufferPointer { sum in
            for slot in gradients.indices {
                guard let view = gradients[slot]?.view else { continue }
                if first { view.gradient.copy(into: sum) } else { view.gradient.add(into: sum) }
                first = false
                score += BatchScore(lossSum: view.lossSum, samples: Int(view.sampleCount))
                slowest = max(slowest, view.computeNanoseconds)
                fastest = min(fastest, view.computeNanoseconds)
            }
        }
        for slot in gradients.indices {
            if let received = gradients[slot] { spareMessages.append(received.message) }
            gradients[slot] = nil
        }
        let updateStart = DispatchTime.now().uptimeNanoseconds
        if score.samples > 0 {
            parameters.withUnsafeMutableBufferPointer { p in
                gradientSum.withUnsafeBufferPointer { g in
                    optimizer.step(parameters: p, gradientSum: g, sampleCount: score.samples, learningRate: learningRate)
                }
            }
        }
        let end = DispatchTime.now().uptimeNanoseconds

        timings.steps += 1
        timings.broadcastNanoseconds += waitStart - broadcastStart
        timings.waitNanoseconds += reduceStart - waitStart
        timings.firstGradientNanoseconds += (firstGradientArrival ?? reduceStart) - waitStart
        timings.reduceNanoseconds += updateStart - reduceStart
        timings.updateNanoseconds += end - updateStart
        timings.slowestComputeNanoseconds += slowest
        timings.fastestComputeNanoseconds += fastest == .max ? 0 : fastest
        timings.bytes += stepBytes
        return score
    }

    private func sendShards(_ plan: ShardPlan, to members: [CoordinatorStateMachine.Member]) throws {
        for (slot, member) in members.enumerated() {
            let shard = train.subset(plan.shards[slot])
            try encoder.shard(runID: runID, features: shard.featureCount, classCount: config.model.classCount, labels: shard.labels)
            try send(to: member.peer, bulk: shard.pixels)
        }
    }

    // MARK: Receiving

    /// Waits up to `timeoutMilliseconds` for messages and handles all that are waiting.
    private func pump(timeoutMilliseconds: Int) throws {
        var items = [PollItem(socket)]
        guard try poll(&items, timeoutMilliseconds: timeoutMilliseconds) > 0 else { return }
        while true {
            let message = spareMessages.popLast() ?? Message(maxFrames: 1 + framesPerMessage)
            guard try socket.receive(into: message, .dontWait) else {
                spareMessages.append(message)
                return
            }
            if !handle(message) { spareMessages.append(message) }
        }
    }

    /// Handles one message from the socket; returns true when it keeps the message (an accepted gradient).
    private func handle(_ message: Message) -> Bool {
        guard message.count >= 1 else { return false }
        let peer = Array(message[0])
        let frames = message.dropFirst()
        stepBytes += UInt64(message.byteCount)
        guard !message.isTruncated, frames.count == framesPerMessage else {
            report(machine.receiveInvalid("a message of \(message.receivedFrames - 1) frames, the protocol has \(framesPerMessage)"), peer: peer)
            return false
        }
        let envelope: Envelope
        do {
            envelope = try decode(frames: frames, context: DecodeContext(receiver: .coordinator, runID: runID,
                                                                          parameterCount: parameters.count))
        } catch let error as WireError {
            if case .unsupportedVersion = error {
                sendRefusal(to: peer, .wrongVersion, "this coordinator speaks dptrain protocol version \(protocolVersion)")
            }
            report(machine.receiveInvalid("\(error)"), peer: peer)
            return false
        } catch {
            report(machine.receiveInvalid("\(error)"), peer: peer)
            return false
        }

        switch envelope.body {
        case .hello(let hello):
            report(machine.receiveHello(hello, from: peer), peer: peer)
        case .gradient(let view):
            let decision = machine.receiveGradient(step: envelope.step, from: peer)
            if case .accept(let member) = decision, let slot = machine.members.firstIndex(of: member) {
                gradients[slot] = (message, view)
                firstGradientArrival = firstGradientArrival ?? DispatchTime.now().uptimeNanoseconds
                return true
            }
            report(decision, peer: peer)
        case .heartbeat:
            report(machine.receiveHeartbeat(from: peer), peer: peer)
        case .goodbye:
            report(machine.receiveInvalid("a goodbye, which this coordinator does not handle yet"), peer: peer)
        default:
            // decode() has already refused every type that does not travel to a coordinator.
            break
        }
        return false
    }

    /// Carries out a decision that needs no gradient.
    private func report(_ decision: CoordinatorStateMachine.Decision, peer: CoordinatorStateMachine.Peer) {
        switch decision {
        case .admit(let member):
            logger.info("worker \(member.id) joined from \(member.host)")
            let configuration = RunConfiguration(training: config, featureCount: train.featureCount, classCount: train.classCount)
            do {
                try encoder.welcome(Welcome(workerID: member.id, configuration: configuration.encoded(),
                                            parameterCount: parameters.count), runID: runID)
                try send(to: member.peer)
            } catch {
                logger.error("could not welcome worker \(member.id): \(error)")
            }
        case .refuse(let peer, let reason, let text):
            logger.info("refused a worker: \(text)")
            sendRefusal(to: peer, reason, text)
        case .drop(let reason):
            let kind = String(reason.prefix { !$0.isNumber })
            let logged = loggedDrops[kind, default: 0]
            loggedDrops[kind] = logged + 1
            if logged < 20 { logger.warning("dropped \(reason)") }
            else if logged == 20 { logger.warning("dropping more messages like that without logging each") }
        case .accept, .ignore:
            break
        }
    }

    private func sendRefusal(to peer: CoordinatorStateMachine.Peer, _ reason: RefuseReason, _ text: String) {
        do {
            try encoder.refuse(Refusal(reason: reason, text: text), runID: runID)
            try send(to: peer)
        } catch {
            logger.debug("could not send a refusal: \(error)")
        }
    }

    // MARK: Sending

    private func send(to peer: CoordinatorStateMachine.Peer) throws {
        try send(to: peer, bulk: [UInt8]())
    }

    /// Sends the message the encoder holds, with `bulk` as its last frame straight from its storage.
    private func send<Bulk>(to peer: CoordinatorStateMachine.Peer, bulk: [Bulk]) throws {
        try peer.withUnsafeBytes { address in
            try bulk.withUnsafeBytes { bulk in
                try encoder.withFrames(bulk: bulk) { frames in
                    stepBytes += UInt64(frames.reduce(0) { $0 + $1.count })
                    _ = try socket.send([address] + frames)
                }
            }
        }
    }
}

/// A bind or connect that failed, named for the user.
public struct EndpointError: Error, CustomStringConvertible {
    public let role: String
    public let verb: String
    public let endpoint: String
    public let error: ZMQError

    public var description: String {
        var text = "\(role): cannot \(verb) \(endpoint): \(error.reason)"
        if error.code == EINVAL || error.code == EPROTONOSUPPORT {
            text += "; an endpoint looks like tcp://HOST:PORT or ipc:///PATH"
        } else if error.code == EADDRINUSE {
            text += "; another process holds it: stop it or choose another port"
        } else if error.code == EADDRNOTAVAIL || error.code == ENODEV {
            text += "; no interface of this machine has that address"
        }
        return text
    }
}
