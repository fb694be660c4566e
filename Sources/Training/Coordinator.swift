import Dataset
import Foundation
import Logging
import MLP
import Wire
import ZMQ

/// How a coordinator runs, beyond the training config.
public struct CoordinatorOptions: Sendable {
    /// Workers to wait for before the first step.
    public var workers: Int
    /// The most workers at once; more are refused.
    public var maxWorkers: Int
    /// Seconds a step waits for a worker's gradient (and a worker may stay silent) before it is declared lost.
    public var stepDeadline: Double
    /// Where checkpoints go; nil for none.
    public var checkpointDirectory: String?
    /// Steps between checkpoints; nil for one at the end of each epoch. There is always one at the end.
    public var checkpointEvery: Int?
    /// Go on from the newest good checkpoint in `checkpointDirectory`.
    public var resume: Bool

    public init(workers: Int, maxWorkers: Int = .max, stepDeadline: Double = 5, checkpointDirectory: String? = nil,
                checkpointEvery: Int? = nil, resume: Bool = false) {
        self.workers = workers
        self.maxWorkers = maxWorkers
        self.stepDeadline = stepDeadline
        self.checkpointDirectory = checkpointDirectory
        self.checkpointEvery = checkpointEvery
        self.resume = resume
    }

    /// Seconds between the coordinator's heartbeats to its workers, and theirs to it.
    public static let heartbeatInterval = 1.0
}

/// The coordinator's loop: binds, waits for its workers, ships each its
/// configuration and samples, then runs synchronous steps (broadcast the
/// weights, gather the gradient sums, add them in worker-id order, divide by
/// the true sample count, step the optimizer), evaluates after each epoch,
/// takes in workers that join, carries on without workers that are lost, and
/// writes checkpoints. The membership decisions are
/// `CoordinatorStateMachine`'s and the sample bookkeeping `SampleAssignment`'s;
/// this class does the I/O, the clock and the arithmetic.
public final class Coordinator {
    public let config: TrainingConfig
    public let options: CoordinatorOptions
    public let endpoint: String
    public private(set) var parameters: [Float]
    public private(set) var machine: CoordinatorStateMachine

    private let train: LabeledImages
    private let test: LabeledImages
    private let socket: Socket
    private let logger: Logger
    private let runID: UInt64
    private let optimizer: Optimizer
    private let store: CheckpointStore?
    private var observer: TrainingObserver?
    private var encoder = MessageEncoder()
    private var assignment: SampleAssignment?

    // Where the run stands; all of it goes into a checkpoint.
    private var epoch = 1
    private var epochInProgress = false
    private var samplesSeen = 0
    private var trainingNanoseconds: UInt64 = 0
    private var runScore = BatchScore()
    private var epochScore = BatchScore()

    /// Received messages not in use, reused so that steps allocate nothing.
    private var spareMessages: [Message] = []
    /// The current step's gradients by worker id, each in the message it arrived in.
    private var gradients: [UInt32: (message: Message, view: GradientView)] = [:]
    private var stepBytes: UInt64 = 0
    private var firstGradientArrival: UInt64?
    /// When each member was last heard from, in uptime nanoseconds.
    private var lastHeard: [UInt32: UInt64] = [:]
    private var lastHeartbeatSent: UInt64 = 0
    /// Logged drops per kind, so that a flood of junk cannot flood the log.
    private var loggedDrops: [String: Int] = [:]

    /// Binds `endpoint` (tcp://HOST:PORT or ipc://PATH) on `context`.
    public init(config: TrainingConfig, train: LabeledImages, test: LabeledImages, options: CoordinatorOptions,
                endpoint: String, context: Context, logger: Logger) throws {
        precondition(config.problems.isEmpty)
        guard config.model.inputSize == train.featureCount, config.model.classCount >= train.classCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model \(config.model.summary) does not fit data of \(train.featureCount) pixels and \(train.classCount) classes")
        }
        self.config = config
        self.options = options
        self.train = train
        self.test = test
        self.logger = logger
        machine = CoordinatorStateMachine(expectedWorkers: options.workers, maxWorkers: options.maxWorkers)
        parameters = config.model.initialParameters(config.initialization, seed: config.seed)
        optimizer = makeOptimizer(config.optimizer, parameterCount: parameters.count)
        store = try options.checkpointDirectory.map(CheckpointStore.init(directory:))
        // A fresh id per run, so that a message from an earlier run is told apart.
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
        self.observer = observer
        if options.resume { try restoreNewestCheckpoint() }
        logger.info("waiting for \(machine.expectedWorkers) worker(s) on \(endpoint)")
        while !machine.isReadyToStart { try pump(timeoutMilliseconds: 200) }
        machine.startTraining()
        try startAssignment()

        let evaluationWorkspace = Workspace(spec: config.model, capacity: 1000)
        var gradientSum = [Float](repeating: 0, count: parameters.count)
        var epochTimings = StepTimings(), runTimings = StepTimings()
        var epochStart = DispatchTime.now().uptimeNanoseconds
        var report = TrainingReport(epoch: 0, step: 0, trainLoss: 0, testAccuracy: 0, samplesPerSecond: 0,
                                    elapsedSeconds: 0, workers: machine.members.count)
        let start = DispatchTime.now().uptimeNanoseconds
        var saidWaiting = false

        while epoch <= config.epochs {
            if !epochInProgress {
                assignment!.startEpoch()
                epochInProgress = true
                epochScore = BatchScore()
            }
            if assignment!.epochFinished {
                trainingNanoseconds += DispatchTime.now().uptimeNanoseconds - epochStart
                runScore += epochScore
                runTimings += epochTimings
                let evaluation = Evaluation(parameters: parameters, data: test, workspace: evaluationWorkspace)
                report = TrainingReport(epoch: epoch, step: Int(machine.step), trainLoss: epochScore.meanLoss,
                                        testAccuracy: evaluation.accuracy,
                                        samplesPerSecond: Double(runScore.samples) / (Double(trainingNanoseconds) / 1e9),
                                        elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                                        workers: machine.members.count, timings: epochTimings, samples: epochScore.samples)
                observer?.epochFinished(report)
                epochInProgress = false
                epoch += 1
                epochTimings = StepTimings()
                if options.checkpointEvery == nil || epoch > config.epochs { try writeCheckpoint() }
                epochStart = DispatchTime.now().uptimeNanoseconds
                continue
            }
            try changeMembershipAtStepBoundary()
            if machine.members.isEmpty {
                if !saidWaiting { logger.warning("no workers left: waiting for workers to join at \(endpoint)") }
                saidWaiting = true
                try pump(timeoutMilliseconds: 200)
                continue
            }
            saidWaiting = false
            let score = try runStep(gradientSum: &gradientSum, timings: &epochTimings)
            guard score.lossSum.isFinite else {
                throw TrainingError.lossNotFinite(epoch: epoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
            }
            epochScore += score
            if let observer {
                let seconds = Double(trainingNanoseconds + DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
                observer.stepFinished(StepProgress(
                    epoch: epoch, epochs: config.epochs, stepInEpoch: epochScore.samples, stepsPerEpoch: train.count,
                    loss: epochScore.meanLoss, samplesPerSecond: Double(runScore.samples + epochScore.samples) / seconds,
                    elapsedSeconds: seconds))
            }
            if let every = options.checkpointEvery, machine.step % UInt64(every) == 0 {
                trainingNanoseconds += DispatchTime.now().uptimeNanoseconds - epochStart
                epochStart = DispatchTime.now().uptimeNanoseconds
                try writeCheckpoint()
            }
        }
        machine.finish()
        for member in machine.allMembers {
            encoder.signal(.shutdown, runID: runID, step: machine.step)
            try? send(to: member.peer)
        }
        if machine.droppedCount > 0 {
            logger.info("dropped \(machine.droppedCount) bad message(s): \(machine.dropped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: "; "))")
        }
        report.trainLoss = runScore.meanLoss
        report.timings = runTimings
        report.samples = runScore.samples
        observer?.trainingFinished(report)
        return report
    }

    // MARK: Steps

    /// One synchronous step over every member with samples left; returns the step's summed score.
    private func runStep(gradientSum: inout [Float], timings: inout StepTimings) throws -> BatchScore {
        let step = machine.step + 1
        var batches: [(member: CoordinatorStateMachine.Member, indices: [UInt32])] = []
        for member in machine.members {
            let indices = assignment!.takeBatch(for: member.id)
            if !indices.isEmpty { batches.append((member, indices)) }
        }
        machine.beginStep(step, expecting: batches.map(\.member.id))
        let learningRate = config.optimizer.schedule.rate(
            base: config.optimizer.learningRate, progress: Double(samplesSeen) / Double(config.epochs * train.count))
        stepBytes = 0
        firstGradientArrival = nil

        let broadcastStart = DispatchTime.now().uptimeNanoseconds
        // One copy of the weights into libzmq, shared by every worker's message.
        let weights = try parameters.withUnsafeBytes { try SharedFrame(copying: $0) }
        for (member, indices) in batches {
            try encoder.step(runID: runID, step: step, epoch: UInt32(epoch), indices: indices, parameterCount: parameters.count)
            do {
                try member.peer.withUnsafeBytes { address in
                    try encoder.withHeaderAndMeta { frames in
                        stepBytes += UInt64(frames.reduce(weights.count) { $0 + $1.count })
                        _ = try socket.send([address] + frames, then: weights)
                    }
                }
            } catch let error as ZMQError where error.isHostUnreachable {
                try connectionGone(member)
            }
        }
        let waitStart = DispatchTime.now().uptimeNanoseconds
        let deadline = waitStart + UInt64(options.stepDeadline * 1e9)
        while !machine.isStepComplete {
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= deadline {
                for id in machine.awaiting.sorted() {
                    try lose(id, reason: String(format: "no gradient for step %llu within the %.1f s deadline", step, options.stepDeadline))
                }
                break
            }
            try pump(timeoutMilliseconds: Int(min(deadline - now, 200_000_000) / 1_000_000) + 1)
        }

        // Sum in worker-id order: the same order every run.
        let reduceStart = DispatchTime.now().uptimeNanoseconds
        var score = BatchScore()
        var slowest: UInt64 = 0, fastest = UInt64.max
        var first = true
        gradientSum.withUnsafeMutableBufferPointer { sum in
            for id in gradients.keys.sorted() {
                let view = gradients[id]!.view
                if first { view.gradient.copy(into: sum) } else { view.gradient.add(into: sum) }
                first = false
                score += BatchScore(lossSum: view.lossSum, samples: Int(view.sampleCount))
                slowest = max(slowest, view.computeNanoseconds)
                fastest = min(fastest, view.computeNanoseconds)
            }
        }
        for (id, received) in gradients {
            assignment!.commit(id)
            spareMessages.append(received.message)
        }
        gradients.removeAll(keepingCapacity: true)
        let updateStart = DispatchTime.now().uptimeNanoseconds
        if score.samples > 0 {
            parameters.withUnsafeMutableBufferPointer { p in
                gradientSum.withUnsafeBufferPointer { g in
                    optimizer.step(parameters: p, gradientSum: g, sampleCount: score.samples, learningRate: learningRate)
                }
            }
        }
        samplesSeen += score.samples
        let end = DispatchTime.now().uptimeNanoseconds

        timings.steps += 1
        timings.broadcastNanoseconds += waitStart - broadcastStart
        timings.waitNanoseconds += reduceStart - waitStart
        // A gradient can arrive while the broadcast is still going out (read while checking a closed connection).
        timings.firstGradientNanoseconds += max(firstGradientArrival ?? reduceStart, waitStart) - waitStart
        timings.reduceNanoseconds += updateStart - reduceStart
        timings.updateNanoseconds += end - updateStart
        timings.slowestComputeNanoseconds += slowest
        timings.fastestComputeNanoseconds += fastest == .max ? 0 : fastest
        timings.bytes += stepBytes
        return score
    }

    // MARK: Membership and samples

    /// The run's first assignment of samples, or the resumed one fitted to the workers that came.
    private func startAssignment() throws {
        let ids = machine.members.map(\.id)
        if var resumed = assignment {
            for id in resumed.holderIDs where !ids.contains(id) { _ = resumed.remove(id) }
            for id in ids where !resumed.holderIDs.contains(id) { _ = resumed.add(id) }
            assignment = resumed
        } else {
            assignment = SampleAssignment(sampleCount: train.count, holderIDs: ids, batchSize: config.batchSize, seed: config.seed)
        }
        for member in machine.members {
            let holder = assignment!.holders.first { $0.id == member.id }!
            try sendSamples(holder.stored, to: member)
        }
        logger.info("training with \(machine.members.count) worker(s): \(machine.members.map { "\($0.id) (\($0.host))" }.joined(separator: ", "))")
    }

    /// Between steps: joining workers take their share of the samples.
    private func changeMembershipAtStepBoundary() throws {
        for member in machine.stepBoundary() {
            let transfers = assignment!.add(member.id)
            try sendSamples(transfers.map(\.global), to: member)
            logger.info("worker \(member.id) (\(member.host)) takes part from step \(machine.step + 1) with \(transfers.count) samples")
            observer?.event("worker_joined", [("worker", .int(Int(member.id))), ("step", .int(Int(machine.step))),
                                              ("workers", .int(machine.members.count))])
        }
    }

    /// Declares a member lost, or gone after its goodbye: it stops counting at once,
    /// and its samples, the batch in hand included, go to the others.
    private func lose(_ id: UInt32, reason: String, cleanly: Bool = false) throws {
        guard let member = machine.lose(id) else { return }
        lastHeard[id] = nil
        if let received = gradients.removeValue(forKey: id) { spareMessages.append(received.message) }
        if cleanly {
            logger.info("worker \(id) (\(member.host)) left at step \(machine.step)")
        } else {
            logger.warning("worker \(id) (\(member.host)) lost at step \(machine.step): \(reason)")
        }
        if assignment != nil { try redistribute(assignment!.remove(id)) }
        observer?.event("worker_lost", [("worker", .int(Int(id))), ("step", .int(Int(machine.step))),
                                        ("workers", .int(machine.members.count)), ("reason", .string(reason))])
    }

    /// A send found the member's connection closed. A worker that left cleanly said goodbye
    /// first: read what is waiting before calling it lost.
    private func connectionGone(_ member: CoordinatorStateMachine.Member) throws {
        try pump(timeoutMilliseconds: 0)
        if machine.allMembers.contains(member) { try lose(member.id, reason: "its connection is gone") }
    }

    private func redistribute(_ moves: [(id: UInt32, samples: [SampleAssignment.Transfer])]) throws {
        for (id, samples) in moves where !samples.isEmpty {
            guard let member = machine.allMembers.first(where: { $0.id == id }) else { continue }
            try sendSamples(samples.map(\.global), to: member)
        }
    }

    /// Ships the samples at `globals` to `member`, which appends them to its storage.
    private func sendSamples(_ globals: [Int32], to member: CoordinatorStateMachine.Member) throws {
        guard !globals.isEmpty else { return }
        let samples = train.subset(globals)
        try encoder.shard(runID: runID, features: samples.featureCount, classCount: config.model.classCount, labels: samples.labels)
        do {
            try send(to: member.peer, bulk: samples.pixels)
        } catch let error as ZMQError where error.isHostUnreachable {
            try connectionGone(member)
        }
    }

    // MARK: Checkpoints

    private func writeCheckpoint() throws {
        guard let store, let assignment else { return }
        let optimizerState = optimizer.state
        let state = CheckpointState(
            training: config, step: machine.step, epoch: epoch, epochInProgress: epochInProgress, samplesSeen: samplesSeen,
            assignment: assignment, memberIDs: machine.members.map(\.id), nextWorkerID: machine.nextID,
            optimizerStep: optimizerState.step, trainingSeconds: Double(trainingNanoseconds) / 1e9,
            runLossSum: runScore.lossSum + (epochInProgress ? epochScore.lossSum : 0),
            runSamples: runScore.samples + (epochInProgress ? epochScore.samples : 0),
            epochLossSum: epochInProgress ? epochScore.lossSum : 0, epochSamples: epochInProgress ? epochScore.samples : 0)
        let path = try store.write(Checkpoint(state: state, parameters: parameters, moments: optimizerState.moments))
        logger.info("checkpoint at step \(machine.step): \(path)")
        observer?.event("checkpoint", [("step", .int(Int(machine.step))), ("epoch", .int(epoch)), ("path", .string(path))])
    }

    private func restoreNewestCheckpoint() throws {
        guard let store else { return }
        let (found, refused) = store.loadNewest()
        for line in refused { logger.warning("\(line); trying the one before") }
        guard let (checkpoint, path) = found else {
            logger.warning("no usable checkpoint in \(store.directory): starting from the beginning")
            return
        }
        let state = checkpoint.state
        guard state.training == config, state.assignment.batchSize == config.batchSize else {
            throw CheckpointError(path: path, reason: "it was written by a run with other training flags; resume with the same flags, or use another --checkpoint folder")
        }
        parameters = checkpoint.parameters
        optimizer.state = OptimizerState(step: state.optimizerStep, moments: checkpoint.moments)
        assignment = state.assignment
        epoch = state.epoch
        epochInProgress = state.epochInProgress
        samplesSeen = state.samplesSeen
        trainingNanoseconds = UInt64(state.trainingSeconds * 1e9)
        runScore = BatchScore(lossSum: state.runLossSum - state.epochLossSum, samples: state.runSamples - state.epochSamples)
        epochScore = BatchScore(lossSum: state.epochLossSum, samples: state.epochSamples)
        machine = CoordinatorStateMachine(expectedWorkers: options.workers, maxWorkers: options.maxWorkers,
                                          resumingAt: state.step, memberIDs: state.memberIDs, nextID: state.nextWorkerID)
        logger.info("resumed from \(path): step \(state.step), epoch \(state.epoch)")
        observer?.event("resumed", [("step", .int(Int(state.step))), ("epoch", .int(state.epoch)), ("path", .string(path))])
    }

    // MARK: Receiving

    /// Waits up to `timeoutMilliseconds` for messages, handles all that are waiting,
    /// keeps the heartbeats going, and declares lost the members silent past the deadline.
    private func pump(timeoutMilliseconds: Int) throws {
        var items = [PollItem(socket)]
        if try poll(&items, timeoutMilliseconds: timeoutMilliseconds) > 0 {
            while true {
                let message = spareMessages.popLast() ?? Message(maxFrames: 1 + framesPerMessage)
                guard try socket.receive(into: message, .dontWait) else {
                    spareMessages.append(message)
                    break
                }
                if !handle(message) { spareMessages.append(message) }
            }
        }
        let now = DispatchTime.now().uptimeNanoseconds
        if Double(now - lastHeartbeatSent) / 1e9 >= CoordinatorOptions.heartbeatInterval {
            lastHeartbeatSent = now
            for member in machine.allMembers {
                encoder.signal(.heartbeat, runID: runID, step: machine.step)
                do { try send(to: member.peer) } catch let error as ZMQError where error.isHostUnreachable {
                    try connectionGone(member)
                }
            }
        }
        // Members awaited by the step have the step's deadline; the rest must keep up their heartbeats.
        for member in machine.allMembers where !machine.awaiting.contains(member.id) {
            let heard = lastHeard[member.id] ?? now
            if Double(now - heard) / 1e9 > options.stepDeadline {
                try lose(member.id, reason: String(format: "silent for more than %.1f s", options.stepDeadline))
            }
        }
    }

    /// Handles one message from the socket; returns true when it keeps the message (an accepted gradient).
    private func handle(_ message: Message) -> Bool {
        guard message.count >= 1 else { return false }
        let peer = Array(message[0])
        let frames = message.dropFirst()
        stepBytes += UInt64(message.byteCount)
        if let member = machine.member(at: peer) { lastHeard[member.id] = DispatchTime.now().uptimeNanoseconds }
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
            if case .accept(let member) = decision {
                gradients[member.id] = (message, view)
                firstGradientArrival = firstGradientArrival ?? DispatchTime.now().uptimeNanoseconds
                return true
            }
            report(decision, peer: peer)
        case .heartbeat:
            report(machine.receiveHeartbeat(from: peer), peer: peer)
        case .goodbye:
            let decision = machine.receiveGoodbye(from: peer)
            if case .leave(let member) = decision {
                do { try lose(member.id, reason: "left cleanly", cleanly: true) } catch { logger.error("\(error)") }
            }
            report(decision, peer: peer)
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
            lastHeard[member.id] = DispatchTime.now().uptimeNanoseconds
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
        case .leave:
            break
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
