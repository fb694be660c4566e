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
    public internal(set) var parameters: [Float]
    public internal(set) var machine: CoordinatorStateMachine

    let train: LabeledImages
    let test: LabeledImages
    let socket: Socket
    let logger: Logger
    /// A fresh id per run, in every message: the metrics' run line names it too.
    public let runID: UInt64
    let optimizer: Optimizer
    let store: CheckpointStore?
    var observer: TrainingObserver?
    var encoder = MessageEncoder()
    var assignment: SampleAssignment?

    // Where the run stands; all of it goes into a checkpoint.
    var epoch = 1
    var epochInProgress = false
    var samplesSeen = 0
    var trainingNanoseconds: UInt64 = 0
    /// `trainingNanoseconds` when the epoch under way began.
    var epochTrainingBase: UInt64 = 0
    var runScore = BatchScore()
    var epochScore = BatchScore()
    /// Each worker's share of the epoch under way, for the metrics.
    var epochWorkers = WorkerFigures()

    /// Received messages not in use, reused so that steps allocate nothing.
    var spareMessages: [Message] = []
    /// The current step's gradients by worker id, each in the message it arrived in.
    var gradients: [UInt32: (message: Message, view: GradientView)] = [:]
    var stepBytes: UInt64 = 0
    var firstGradientArrival: UInt64?
    /// The current step's batches, reused from step to step.
    var stepBatches: [(member: CoordinatorStateMachine.Member, indices: ArraySlice<UInt32>)] = []
    /// The poll set of the coordinator's one socket.
    lazy var pollItems = [PollItem(socket)]
    /// How many samples each member's batch in the current step has: its gradient must say the same.
    var expectedRows: [UInt32: Int] = [:]
    /// Members whose connection a send found closed, to be declared lost by the next `pump`.
    var closedConnections: Set<UInt32> = []
    /// A worker reported that it cannot go on; the run stops with its reason.
    var workerFailure: TrainingError?
    /// When each stranger was last told that its messages are for another run.
    var lastOtherRunNotice: [CoordinatorStateMachine.Peer: UInt64] = [:]
    /// When each member was last heard from, in uptime nanoseconds.
    var lastHeard: [UInt32: UInt64] = [:]
    var lastHeartbeatSent: UInt64 = 0
    /// Logged drops per kind, so that a flood of junk cannot flood the log.
    var loggedDrops: [String: Int] = [:]

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

    /// Nanoseconds a step waits before it probes the workers it still waits for.
    static let probeInterval: UInt64 = 25_000_000

    /// libzmq I/O threads for a coordinator of `workers`: every step moves two
    /// weight-sized messages per worker through them, and one thread serves its
    /// connections one after another.
    public static func ioThreads(workers: Int) -> Int32 {
        workers < 2 ? 1 : workers < 8 ? 2 : 4
    }

    /// Trains to the end and tells the workers to exit; on an error too, so that none waits for a coordinator that is gone.
    @discardableResult
    public func run(observer: TrainingObserver? = nil) throws -> TrainingReport {
        do {
            return try train(observer: observer)
        } catch {
            shutDownWorkers()
            throw error
        }
    }

    private func shutDownWorkers() {
        for member in machine.allMembers {
            encoder.signal(.shutdown, runID: runID, step: machine.step)
            try? send(to: member.peer)
        }
    }

    private func train(observer: TrainingObserver?) throws -> TrainingReport {
        self.observer = observer
        if options.resume {
            try restoreNewestCheckpoint()
        } else if let store, !store.checkpointPaths().isEmpty {
            // Pruning keeps the newest steps: a fresh run here would lose its own checkpoints to an old run's.
            throw CheckpointError(path: store.directory, reason: "already holds checkpoints of a run; pass --resume to go on from them, or choose an empty folder")
        }
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
                epochTrainingBase = trainingNanoseconds
            }
            if assignment!.epochFinished {
                trainingNanoseconds += DispatchTime.now().uptimeNanoseconds - epochStart
                runScore += epochScore
                runTimings += epochTimings
                try sendHeartbeats()   // the workers hear nothing else while the test set is scored
                let evaluation = Evaluation(parameters: parameters, data: test, workspace: evaluationWorkspace)
                report = TrainingReport(epoch: epoch, step: Int(machine.step), trainLoss: epochScore.meanLoss,
                                        testAccuracy: evaluation.accuracy,
                                        samplesPerSecond: Double(runScore.samples) / (Double(trainingNanoseconds) / 1e9),
                                        elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                                        workers: machine.members.count, timings: epochTimings, samples: epochScore.samples)
                report.epochSamplesPerSecond = Double(epochScore.samples) / (Double(trainingNanoseconds - epochTrainingBase) / 1e9)
                report.record(evaluation, trainingScore: epochScore)
                report.workerFigures = epochWorkers
                epochWorkers = WorkerFigures()
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
                let learningRate = config.optimizer.schedule.rate(
                    base: config.optimizer.learningRate, progress: Double(samplesSeen - score.samples) / Double(config.epochs * train.count))
                gradientSum.withUnsafeBufferPointer { gradientSum in
                    observer.stepFinished(StepProgress(
                        epoch: epoch, epochs: config.epochs, samplesInEpoch: epochScore.samples, samplesPerEpoch: train.count,
                        loss: epochScore.meanLoss, samplesPerSecond: Double(runScore.samples + epochScore.samples) / seconds,
                        elapsedSeconds: seconds, step: Int(machine.step), learningRate: Double(learningRate),
                        workers: machine.members.count, epochTimings: epochTimings,
                        gradientSum: gradientSum, stepSamples: score.samples, stepLoss: score.meanLoss))
                }
            }
            if let every = options.checkpointEvery, machine.step % UInt64(every) == 0 {
                trainingNanoseconds += DispatchTime.now().uptimeNanoseconds - epochStart
                epochStart = DispatchTime.now().uptimeNanoseconds
                try writeCheckpoint()
            }
        }
        machine.finish()
        shutDownWorkers()
        if machine.droppedCount > 0 {
            logger.info("dropped \(machine.droppedCount) bad message(s): \(machine.dropped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: "; "))")
        }
        report.trainLoss = runScore.meanLoss
        report.timings = runTimings
        report.samples = runScore.samples
        report.epochSamplesPerSecond = nil
        observer?.trainingFinished(report)
        return report
    }

    // MARK: Steps

    /// One synchronous step over every member with samples left; returns the step's summed score.
    func runStep(gradientSum: inout [Float], timings: inout StepTimings) throws -> BatchScore {
        let step = machine.step + 1
        stepBatches.removeAll(keepingCapacity: true)
        expectedRows.removeAll(keepingCapacity: true)
        for member in machine.members {
            let indices = assignment!.takeBatch(for: member.id)
            guard !indices.isEmpty else { continue }
            stepBatches.append((member, indices))
            expectedRows[member.id] = indices.count
        }
        machine.beginStep(step, expecting: stepBatches.lazy.map(\.member.id))
        let learningRate = config.optimizer.schedule.rate(
            base: config.optimizer.learningRate, progress: Double(samplesSeen) / Double(config.epochs * train.count))
        stepBytes = 0
        firstGradientArrival = nil

        let broadcastStart = DispatchTime.now().uptimeNanoseconds
        // One copy of the weights into libzmq, shared by every worker's message.
        let weights = try parameters.withUnsafeBytes { try SharedFrame(copying: $0) }
        for (member, indices) in stepBatches {
            try encoder.step(runID: runID, step: step, epoch: UInt32(epoch), indices: indices, parameterCount: parameters.count)
            do {
                try member.peer.withUnsafeBytes { address in
                    try encoder.withHeaderAndMeta { header, meta in
                        stepBytes += UInt64(address.count + header.count + meta.count + weights.count)
                        _ = try socket.send(address, header, meta, then: weights)
                    }
                }
            } catch let error as ZMQError where error.isHostUnreachable {
                connectionGone(member)
            }
        }
        let waitStart = DispatchTime.now().uptimeNanoseconds
        let deadline = waitStart + UInt64(options.stepDeadline * 1e9)
        var lastProbe = waitStart
        while !machine.isStepComplete {
            let now = DispatchTime.now().uptimeNanoseconds
            if now - lastProbe > Coordinator.probeInterval {
                // A slow step: a heartbeat to each worker still awaited finds a closed connection
                // at once, rather than at the next second's heartbeat or the deadline.
                lastProbe = now
                try probeAwaitedMembers()
            }
            if now >= deadline {
                for id in machine.awaiting.sorted() {
                    try lose(id, reason: String(format: "no gradient for step %llu within the %.1f s deadline", step, options.stepDeadline))
                }
                break
            }
            try pump(timeoutMilliseconds: Int(min(deadline - now, Coordinator.probeInterval) / 1_000_000) + 1)
        }

        // Sum in worker-id order: the same order every run.
        let reduceStart = DispatchTime.now().uptimeNanoseconds
        var score = BatchScore()
        var slowest: UInt64 = 0, fastest = UInt64.max
        var first = true
        gradientSum.withUnsafeMutableBufferPointer { sum in
            for member in machine.members {   // in id order
                guard let view = gradients[member.id]?.view else { continue }
                if first { view.gradient.copy(into: sum) } else { view.gradient.add(into: sum) }
                first = false
                score += BatchScore(lossSum: view.lossSum, samples: Int(view.sampleCount))
                slowest = max(slowest, view.computeNanoseconds)
                epochWorkers.record(member.id, host: member.host, computeNanoseconds: view.computeNanoseconds, samples: Int(view.sampleCount))
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
        // Finite gradients can still add up to infinity, or a step overflow the weights: stop here, not on the workers.
        guard parameters.withUnsafeBufferPointer(allFinite) else {
            throw TrainingError.lossNotFinite(epoch: epoch, step: Int(step), learningRate: config.optimizer.learningRate)
        }
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
}
