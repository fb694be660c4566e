import CSignals
import Dataset
import Foundation
import Logging
import MLP
import Plan
import Roles
import Training
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
    /// On SIGTERM or SIGINT, finish the step in hand, write a checkpoint, tell the workers and
    /// return (a scheduler's preemption); a second signal stops at once.
    public var stopsOnSignal: Bool
    /// How the weights travel to every worker of the run (gradients come back as exact Int64 sums).
    public var wirePrecision: WirePrecision
    /// Move the bulk of workers on this host through shared memory, when they offer it.
    public var sharedMemory: Bool
    /// The fraction of answers recomputed and compared bit for bit (`--verify`); 0 for none.
    public var verify: Double
    /// What `--verify` is when not given: a liar in every answer is caught at its first (a new
    /// member's first answer is always checked), one lying in one answer of k at about 2% a lie,
    /// for a cost measured in docs/performance.md ("Verification by recomputation").
    public static let defaultVerify = 0.02
    /// Move shards from slow workers to fast ones as their measured speeds call for (`--rebalance`).
    public var rebalance: Bool
    /// Parameter servers that hold the weights and optimizer, each a range (`--parameter-servers`); 0: the coordinator does.
    public var parameterServers = 0

    public init(workers: Int, maxWorkers: Int = .max, stepDeadline: Double = Liveness.defaultStepDeadlineSeconds,
                checkpointDirectory: String? = nil, checkpointEvery: Int? = nil, resume: Bool = false, stopsOnSignal: Bool = false,
                wirePrecision: WirePrecision = .float32, sharedMemory: Bool = true, verify: Double = CoordinatorOptions.defaultVerify,
                rebalance: Bool = true) {
        self.rebalance = rebalance
        self.workers = workers
        self.maxWorkers = maxWorkers
        self.stepDeadline = stepDeadline
        self.checkpointDirectory = checkpointDirectory
        self.checkpointEvery = checkpointEvery
        self.resume = resume
        self.stopsOnSignal = stopsOnSignal
        self.wirePrecision = wirePrecision
        self.sharedMemory = sharedMemory
        self.verify = verify
    }
}

/// The coordinator's driver: binds, feeds its state machine what arrives and
/// what the clock says, carries out the machine's actions, and does the
/// arithmetic of each step (broadcast the weights, gather the gradient sums,
/// add them in worker-id order, divide by the true sample count, step the
/// optimizer), evaluating after each epoch and writing checkpoints. Every
/// decision about members, samples and time is `CoordinatorStateMachine`'s.
public final class Coordinator {
    public let config: TrainingConfig
    public let options: CoordinatorOptions
    public let endpoint: String
    public internal(set) var parameters: [Float]
    public internal(set) var machine: CoordinatorStateMachine
    /// Why the run stopped before its last epoch, when it was asked to stop by a signal.
    public private(set) var stoppedBySignal: Int32 = 0
    /// The newest checkpoint this run wrote.
    public internal(set) var lastCheckpoint: String?

    let train: LabeledImages
    /// The test set, and the validation set scored each epoch in its place when there is one.
    public private(set) var evaluation: RunEvaluation
    let socket: Socket
    let logger: Logger
    /// A fresh id per run, in every message: the metrics' run line names it too.
    public let runID: UInt64
    let optimizer: Optimizer
    let store: CheckpointStore?
    var observer: TrainingObserver?
    var encoder = MessageEncoder()
    var account: RunAccounting
    /// Judges the run's losses and accuracy as the single-process trainer does.
    var divergence = DivergenceCheck()

    /// Received messages not in use, reused so that steps allocate nothing.
    var spareMessages: [Message] = []
    /// The step's answers and their exact total.
    var reducer: StepReducer
    /// Requests of the step sent so far, and the weights they share.
    var requestsSent = 0
    var stepWeights: SharedFrame?
    var stepTimings = StepTimings()
    /// Each worker's share of the epoch under way, for the metrics.
    var epochWorkers = WorkerFigures()
    var firstGradientArrival: UInt64?
    /// The poll set: the coordinator's one socket, then the answer pipe of each member in `pollMembers`.
    lazy var pollItems = [PollItem(socket)]
    var pollMembers: [UInt32] = []
    /// The same-host bulk transport's segments.
    var sharedMemory: CoordinatorSharedMemory
    /// Logged drops per kind, so that a flood of junk cannot flood the log.
    var loggedDrops: [String: Int] = [:]
    /// Verification by recomputation: the coordinator's own chunk passes and draws, the states it
    /// may roll back to, and how many answers it has checked.
    var verifier = AnswerVerifier()
    var snapshots: [UInt64: RunSnapshot] = [:]
    public internal(set) var answersVerified = 0
    /// When a rebalance was last a line of the output (the others are debug lines).
    var lastRebalanceLine: UInt64?
    /// The run's parameter servers, nil without (Coordinator+ParameterServers.swift); the step's
    /// answers as they are committed to them; the step whose weights `parameters` holds; a fetch
    /// in flight.
    var roster: ParameterServerRoster?
    var commit = Commit(learningRate: 0, sampleCount: 0, answers: [], members: [], nextStep: 0)
    var fetchedStep: UInt64?
    var fetching: Set<Int> = []
    var fetchedMoments: [[Float]] = []
    var fetchedOptimizerSteps = 0
    var lastServerHeartbeat: UInt64 = 0
    /// A server found lost while a message was handled: thrown at the end of the poll.
    var pendingLoss: ParameterServerLoss?
    /// The keys the coordinator admits, in a run with keys: secure parameter servers take their holders.
    var admittedKeys: Authenticator?

    /// Binds `endpoint` (tcp://HOST:PORT or ipc://PATH) on `context`, secured as `security` says.
    public init(config: TrainingConfig, train: LabeledImages, test: LabeledImages, validation: LabeledImages? = nil, testEveryEpoch: Bool = false,
                initialParameters: [Float]? = nil, options: CoordinatorOptions,
                endpoint: String, context: Context, logger: Logger, security: SocketSecurity = .none) throws {
        precondition(config.problems.isEmpty)
        guard config.model.inputSize == train.featureCount, config.model.classCount >= train.classCount else {
            throw TrainingError.dataDoesNotFitModel(
                "the model \(config.model.summary) does not fit data of \(train.featureCount) pixels and \(train.classCount) classes")
        }
        if let problem = config.problem(trainingOn: train.count) {
            throw TrainingError.dataDoesNotFitModel(problem)
        }
        self.config = config
        self.options = options
        self.train = train
        evaluation = RunEvaluation(spec: config.model, test: test, validation: validation, testEveryEpoch: testEveryEpoch)
        self.logger = logger
        machine = CoordinatorStateMachine(settings: Self.settings(options, config, sampleCount: train.count))
        parameters = initialParameters ?? config.model.initialParameters(config.initialization, seed: config.seed)
        if options.parameterServers > 0 {
            guard options.parameterServers <= min(Limits.parameterServers, parameters.count), config.clipNorm == nil else {
                throw TrainingError.dataDoesNotFitModel(config.clipNorm != nil
                    ? "--clip-norm needs the whole gradient's norm, which no parameter server has: run without --parameter-servers or without --clip-norm"
                    : "--parameter-servers \(options.parameterServers): at most \(min(Limits.parameterServers, parameters.count))")
            }
            roster = ParameterServerRoster(expected: options.parameterServers, parameterCount: parameters.count)
        }
        // With parameter servers the weights never travel from here during a step: no segment for them.
        sharedMemory = CoordinatorSharedMemory(enabled: options.sharedMemory && options.parameterServers == 0)
        reducer = StepReducer(parameterCount: options.parameterServers > 0 ? 0 : parameters.count, format: config.fixedPointFormat(for: options.wirePrecision))
        optimizer = makeOptimizer(config.optimizer, parameterCount: parameters.count)
        store = try options.checkpointDirectory.map(CheckpointStore.init(directory:))
        account = RunAccounting(epochs: config.epochs, samplesPerEpoch: train.count, now: Self.now())
        // A fresh id per run, so that a message from an earlier run is told apart.
        runID = UInt64.random(in: 1...UInt64.max)

        socket = try Socket(context, .router)
        try socket.apply(security)
        // An unknown routing id is an error rather than a silent drop: a closed connection shows at once.
        try socket.set(.routerMandatory, 1)
        // Nothing legitimate is larger than a gradient (Int64s); a peer announcing more is cut off by libzmq.
        // (A server's state is its weights and up to two moments: 12 bytes a parameter.)
        try socket.set(.maxMessageSize, parameters.count * (options.parameterServers > 0 ? 12 : 8) + 64 * 1024)
        try socket.useLargeKernelBuffers(messageBytes: parameters.count * 8)
        do {
            try socket.bind(endpoint)
        } catch let error as ZMQError {
            throw EndpointError(role: "coordinator", verb: "bind", endpoint: endpoint, error: error)
        }
        self.endpoint = (try? socket.lastEndpoint()) ?? endpoint
        if case let .curveServer(_, authenticator) = security { admittedKeys = authenticator }
    }

    static func settings(_ options: CoordinatorOptions, _ config: TrainingConfig, sampleCount: Int) -> CoordinatorStateMachine.Settings {
        var settings = CoordinatorStateMachine.Settings(
            expectedWorkers: options.workers, maxWorkers: options.maxWorkers, stepDeadlineSeconds: options.stepDeadline,
            sampleCount: sampleCount, batchSize: config.batchSize, shardCount: config.shardCount, seed: config.seed,
            epochs: config.epochs, restarted: options.resume, blasCore: BLAS.coreName)
        settings.compute = config.computePrecision
        settings.stopping = config.stopping
        settings.loss = config.model.loss
        settings.classCount = config.model.classCount
        // Recomputing an answer needs the step's weights, which live on the servers when there are some.
        settings.verifyFraction = options.parameterServers > 0 ? 0 : options.verify
        settings.rebalance = options.rebalance
        return settings
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// A line for workers of the same threads that hold unequal numbers of shards (4 shards over
    /// 3 workers): the step waits for the one with more, and no move can even it out; nil when
    /// the split is even for the threads or there are fewer shards than workers (warned apart).
    static func unevenSplit(_ holders: [ShardAssignment.Holder], members: [CoordinatorStateMachine.Member], shardCount: Int) -> String? {
        let threads = Set(members.map(\.threads))
        guard threads.count == 1, holders.count > 1, shardCount >= holders.count else { return nil }
        let counts = holders.map(\.shards.count)
        guard let most = counts.max(), let least = counts.min(), most > least else { return nil }
        let even = (1...).lazy.map { holders.count * $0 }.first { $0 >= shardCount }!
        return "\(counted(shardCount, "shard")) over \(counted(holders.count, "worker")): some compute \(most) a step and others \(least), and each step waits for them; "
            + "--shards \(even) gives each worker the same share (another --shards trains another model)"
    }

    /// libzmq I/O threads for a coordinator of `workers`: every step moves two
    /// weight-sized messages per worker through them, and one thread serves its
    /// connections one after another.
    public static func ioThreads(workers: Int) -> Int32 {
        workers < 2 ? 1 : workers < 8 ? 2 : 4
    }

    /// Trains to the end, or to a stop signal, and tells the workers; on an error too, so that
    /// none waits for a coordinator that is gone.
    @discardableResult
    public func run(observer: TrainingObserver? = nil) throws -> TrainingReport {
        self.observer = observer
        // The process ignores SIGPIPE (a worker gone shows as EPIPE on its step pipe) and, with
        // `stopsOnSignal`, catches the stop signals: its command sets that up.
        reducer.start(team: ParameterTeam.forThisMachine())
        defer { reducer.stop() }
        do {
            let report = try trainToEnd()
            try finishRun()
            return report
        } catch {
            try? finishRun()
            throw error
        }
    }

    private func trainToEnd() throws -> TrainingReport {
        if options.resume {
            try restoreNewestCheckpoint()
        } else {
            try store?.refuseIfHoldsARun()
        }
        var report = TrainingReport(epoch: machine.course.currentEpoch - 1, step: Int(machine.step), trainLoss: 0, testAccuracy: 0,
                                    samplesPerSecond: 0, elapsedSeconds: 0, workers: 0)
        if machine.course.isFinished { return completedRunReport() }
        guard try gatherServers(), try gatherWorkers() else {
            stoppedBySignal = dptrain_stop_requested()
            return report
        }
        perform(machine.startTraining(now: Self.now()))
        keepServersSnapshot()
        logger.info("training with \(counted(machine.members.count, "worker")): \(machine.members.map { "\($0.id) (\($0.host))" }.joined(separator: ", "))")
        if machine.members.count > config.shardCount {
            logger.warning("\(counted(machine.members.count - config.shardCount, "worker")) will wait idle: the run has \(counted(config.shardCount, "shard")) and a worker holds whole shards; pass --shards \(machine.members.count) or more to use them all")
        }
        if let uneven = Self.unevenSplit(machine.assignment?.holders ?? [], members: machine.members, shardCount: config.shardCount) {
            logger.info("\(uneven)")
        }
        observer?.event("training_started", [("step", .int(Int(machine.step))), ("epoch", .int(machine.course.currentEpoch)), ("workers", .int(machine.members.count)),
                                             ("hosts", .object(machine.members.map { (String($0.id), .string($0.host)) }))])

        // The machine decides the course (`advance`); this loop carries it out.
        var saidWaiting = false
        while true {
            if stopRequested() {
                try stopForSignal()
                return account.finalReport(report)
            }
            do {
                switch machine.advance(now: Self.now()) {
                case .beginEpoch:
                    account.beginEpoch(now: Self.now())
                case .closeEpoch(let epoch):
                    report = try finishEpoch(epoch)
                case .waitForWorkers(let actions):
                    perform(actions)
                    if !saidWaiting { logger.warning("no workers left: waiting for workers to join at \(endpoint)") }
                    saidWaiting = true
                    try pump(timeoutMilliseconds: 200)
                case .step(let actions):
                    perform(actions)
                    saidWaiting = false
                    try trainPlannedStep()
                case .endOfRun:
                    if answersVerified > 0 {
                        logger.info("verified \(counted(answersVerified, "answer")) by recomputing them: \(machine.expelled.isEmpty ? "every one matched" : "expelled \(machine.expelled.count) for answers that did not match")")
                    }
                    if machine.droppedCount > 0 {
                        logger.info("dropped \(counted(machine.droppedCount, "bad message")): \(machine.dropped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: "; "))")
                    }
                    try fetchFromServers()
                    report = evaluation.finish(account.finalReport(report), parameters: parameters)
                    observer?.trainingFinished(report)
                    return report
                }
            } catch let loss as ParameterServerLoss {
                // A server's range is gone: back to the state last fetched, once a replacement holds it.
                try recover(from: loss)
            }
        }
    }

    /// Trains the step the machine planned, and records, logs and checkpoints it.
    private func trainPlannedStep() throws {
        let learningRate = account.learningRate(config)
        let epoch = machine.course.epoch
        guard let score = try runStep() else { return }
        if let verdict = divergence.stepFinished(lossSum: score.lossSum, samples: score.samples) {
            throw TrainingError.divergence(verdict, epoch: epoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
        }
        account.recordStep(score, timings: stepTimings)
        if let observer {
            let progress = account.stepProgress(epoch: epoch, now: Self.now()).adding(
                step: Int(machine.step), learningRate: learningRate, score: score, workers: machine.members.count, epochTimings: account.epochTimings)
            reducer.gradientSum.withUnsafeBufferPointer { observer.stepFinished(progress.with(gradientSum: $0)) }
        }
        if let every = options.checkpointEvery, machine.step % UInt64(every) == 0 {
            try writeCheckpoint()
            keepServersSnapshot()
        }
    }
    /// Waits for the workers the run starts with, saying every ten seconds what it waits for;
    /// false when a stop signal came first.
    private func gatherWorkers() throws -> Bool {
        let expected = machine.settings.expectedWorkers
        logger.info("waiting for \(counted(expected, "worker")) on \(endpoint)")
        var lastSaid = Self.now()
        while !machine.isReadyToStart(now: Self.now()) {
            if stopRequested() { return false }
            try pump(timeoutMilliseconds: 200)
            if Self.now() - lastSaid >= Self.waitingReportInterval, !machine.isReadyToStart(now: Self.now()) {
                lastSaid = Self.now()
                let joined = machine.members.count
                logger.info("\(joined) of \(counted(expected, "worker")) joined; waiting for \(expected - joined) more on \(endpoint) (start them with: dptrain worker --connect \(endpoint))")
            }
        }
        return true
    }

    /// How often a coordinator waiting for its workers says so.
    static let waitingReportInterval: UInt64 = 10_000_000_000

    /// A resumed run whose checkpoint is its end: nothing to train; its real figures.
    private func completedRunReport() -> TrainingReport {
        let scored = Evaluation(parameters: parameters, data: evaluation.test, workspace: Workspace(spec: config.model, capacity: 1000))
        logger.info("the run is already complete: \(counted(config.epochs, "epoch")), \(counted(Int(machine.step), "step")); nothing to train")
        var report = account.finalReport(TrainingReport(
            epoch: config.epochs, step: Int(machine.step), trainLoss: 0, testAccuracy: scored.accuracy,
            samplesPerSecond: 0, elapsedSeconds: 0, workers: 0))
        report.samplesPerSecond = Double(account.samplesSeen) / max(Double(account.trainingNanoseconds) / 1e9, 1e-9)
        observer?.trainingFinished(report)
        return report
    }

    /// Scores the test set, reports epoch `epoch`, and writes the epoch's checkpoint.
    private func finishEpoch(_ epoch: Int) throws -> TrainingReport {
        account.pauseClock(now: Self.now())
        perform(machine.heartbeats(now: Self.now()))   // the workers hear nothing else while the test set is scored
        try fetchFromServers()
        let scored = evaluation.scoreEpoch(parameters)
        if let verdict = divergence.epochFinished(testAccuracy: scored.accuracy, testSamples: evaluation.epochSet.count, classCount: train.classCount) {
            throw TrainingError.divergence(verdict, epoch: epoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
        }
        let trainingScore = account.epochScore
        var report = account.finishEpoch(epoch, testAccuracy: evaluation.reportedTestAccuracy(scored), step: Int(machine.step), workers: machine.members.count,
                                         distributed: true, now: Self.now())
        evaluation.record(scored, into: &report, trainingScore: trainingScore, parameters: parameters)
        report.workerFigures = epochWorkers
        epochWorkers = WorkerFigures()
        observer?.epochFinished(report)
        if let end = machine.epochScored(accuracy: scored.accuracy) {
            let event = account.event(for: end)
            observer?.event(event.name, event.fields)
        }
        if options.checkpointEvery == nil || machine.course.isFinished { try writeCheckpoint() }
        keepServersSnapshot()
        return report
    }

    /// A stop signal arrived: the step in hand is done; keep what was trained.
    private func stopForSignal() throws {
        stoppedBySignal = dptrain_stop_requested()
        account.pauseClock(now: Self.now())
        logger.warning("stopping at step \(machine.step), as asked by signal \(stoppedBySignal)")
        try fetchFromServers()
        try writeCheckpoint()
    }

    private func stopRequested() -> Bool { options.stopsOnSignal && dptrain_stop_requested() != 0 }

    /// Tells every worker that training is over, until each acknowledges or the linger passes.
    private func finishRun() throws {
        shutDownServers()
        perform(machine.finish(now: Self.now()))
        while machine.phase != .finished { try pump(timeoutMilliseconds: 50) }
    }
}
