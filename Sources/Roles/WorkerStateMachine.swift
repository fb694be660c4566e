import Wire

/// Every decision of a worker about its coordinator, with no sockets and no
/// clock: saying hello with backoff, keeping quiet links alive, rejoining a
/// coordinator that went silent or restarted, giving up, obeying refusals,
/// and leaving. The driver (`Worker`) feeds it what arrives and what its clock
/// says and carries out its actions; the gradients themselves are the driver's.
public struct WorkerStateMachine {
    public enum State: Equatable, Sendable {
        /// Saying hello until a coordinator welcomes this worker.
        case joining
        /// A member of run `runID`.
        case joined(runID: UInt64)
        /// Done: training is over, or this worker left.
        case stopped(Outcome)
        /// Cannot go on.
        case failed(Failure)
    }

    public enum Outcome: Equatable, Sendable {
        case trainingDone
        case left
    }

    public enum Failure: Equatable, Sendable {
        /// No coordinator heard for this many seconds.
        case coordinatorSilent(seconds: Double)
        /// The coordinator will not take this worker, for good.
        case refused(RefuseReason, String)
        /// The coordinator runs another release: it speaks protocol version `coordinatorVersion`
        /// (nil when it said so in a refusal, `text`, rather than in its header).
        case otherRelease(coordinatorVersion: UInt16?, text: String)
    }

    public enum Action: Equatable, Sendable {
        /// Say hello, asking for this id back (0 for a new worker).
        case sendHello(previousWorkerID: UInt32)
        case sendHeartbeat
        /// Say goodbye: leaving, or acknowledging the shutdown.
        case sendGoodbye
        /// Drop the connection and open a fresh one (the old one may hold a dead coordinator's queue).
        case reconnect
        /// Say why no coordinator has answered yet, and how long until giving up.
        case explainWait(waitedSeconds: Double, secondsLeft: Double)
    }

    public private(set) var state = State.joining
    /// Kept across coordinators, so that a restarted one gives this worker its place back.
    public private(set) var workerID: UInt32 = 0
    /// The run this worker last belonged to.
    public private(set) var lastRunID: UInt64 = 0
    public let giveUpAfter: UInt64
    var coordinatorSilence = Liveness.defaultCoordinatorSilence
    var backoff = Liveness.firstHelloBackoff
    var nextHello: UInt64
    var lastHeard: UInt64
    var lastSent: UInt64
    var nextExplanation: UInt64
    /// When this worker began looking for a coordinator.
    var joiningSince: UInt64

    public init(giveUpAfterSeconds: Double, now: UInt64) {
        giveUpAfter = Liveness.nanoseconds(giveUpAfterSeconds)
        nextHello = now
        lastHeard = now
        lastSent = now
        joiningSince = now
        nextExplanation = now &+ Liveness.firstWaitingExplanation
    }

    public var isJoined: Bool { if case .joined = state { true } else { false } }
    public var isRunning: Bool { state == .joining || isJoined }

    /// What is due at `now`: a hello, a heartbeat, a rejoin, or giving up.
    public mutating func tick(now: UInt64) -> [Action] {
        switch state {
        case .joining:
            if now &- lastHeard > giveUpAfter {
                state = .failed(.coordinatorSilent(seconds: Liveness.seconds(giveUpAfter)))
                return []
            }
            var actions: [Action] = []
            if now >= nextExplanation {
                nextExplanation = now &+ Liveness.waitingExplanationInterval
                actions.append(.explainWait(waitedSeconds: Liveness.seconds(now &- joiningSince),
                                            secondsLeft: Liveness.seconds(lastHeard &+ giveUpAfter &- min(now, lastHeard &+ giveUpAfter))))
            }
            guard now >= nextHello else { return actions }
            nextHello = now &+ backoff
            backoff = min(backoff * 2, Liveness.lastHelloBackoff)
            lastSent = now
            return actions + [.sendHello(previousWorkerID: workerID)]
        case .joined:
            if now &- lastHeard > coordinatorSilence { return rejoin(now: now) }
            guard now &- lastSent >= Liveness.heartbeatInterval else { return [] }
            lastSent = now
            return [.sendHeartbeat]
        case .stopped, .failed:
            return []
        }
    }

    /// Nanoseconds until something is due, for the driver's poll.
    public func nanosecondsUntilDue(now: UInt64) -> UInt64 {
        let due: UInt64
        switch state {
        case .joining: due = min(nextHello, nextExplanation, lastHeard &+ giveUpAfter &+ 1)
        case .joined: due = min(lastSent &+ Liveness.heartbeatInterval, lastHeard &+ coordinatorSilence &+ 1)
        case .stopped, .failed: return 0
        }
        return due > now ? due - now : 0
    }

    /// Any well-formed message from the coordinator: it is alive.
    public mutating func heard(now: UInt64) { lastHeard = now }

    /// The driver sent something (a gradient, say): no heartbeat is needed for a while.
    public mutating func sent(now: UInt64) { lastSent = now }

    /// A welcome into run `runID` as `workerID`; `silenceSeconds` is how long the coordinator
    /// asks its workers to wait for it before they take it for gone.
    public mutating func receiveWelcome(workerID: UInt32, runID: UInt64, silenceSeconds: Double?, now: UInt64) -> Bool {
        guard state == .joining else { return false }
        self.workerID = workerID
        lastRunID = runID
        coordinatorSilence = max(Liveness.defaultCoordinatorSilence, Liveness.nanoseconds(silenceSeconds ?? 0))
        state = .joined(runID: runID)
        backoff = Liveness.firstHelloBackoff
        lastHeard = now
        // A heartbeat at the next tick: the coordinator takes a joining worker into steps once it
        // has heard from it after its welcome.
        lastSent = now &- Liveness.heartbeatInterval
        return true
    }

    /// A refusal from the coordinator, sent under `runID`.
    public mutating func receiveRefusal(_ reason: RefuseReason, _ text: String, runID: UInt64, now: UInt64) -> [Action] {
        switch reason {
        case .duplicateID:
            // In the same run: its old connection still counts as live until the coordinator
            // declares it lost; keep asking, with backoff. In another run (a restarted coordinator
            // whose checkpoint predates this worker), the id means nothing there: join as new.
            if runID != lastRunID, state == .joining, workerID != 0 {
                workerID = 0
                nextHello = now
            }
            return []
        case .tryLater:
            // Backing off after a loss, or too many joining at once: keep asking, with backoff.
            return []
        case .otherRun:
            // A new coordinator answers at the endpoint: rejoin it now rather than after the silence timeout.
            return isJoined ? rejoin(now: now) : []
        case .runFinished:
            state = .stopped(.trainingDone)
            return []
        case .wrongVersion:
            state = .failed(.otherRelease(coordinatorVersion: nil, text: text))
            return []
        case .runFull, .notAuthorised, .otherKernels, .noBF16:
            state = .failed(.refused(reason, text))
            return []
        }
    }

    /// A message from the coordinator whose header has protocol version `version`, not this
    /// worker's: another release, which no retry makes this one's. Stop, whatever the state.
    public mutating func receiveOtherVersion(_ version: UInt16, now: UInt64) -> [Action] {
        state = .failed(.otherRelease(coordinatorVersion: version, text: ""))
        return []
    }

    /// Training is over: acknowledge, and stop.
    public mutating func receiveShutdown(now: UInt64) -> [Action] {
        guard isRunning else { return [] }
        state = .stopped(.trainingDone)
        return [.sendGoodbye]
    }

    /// A message to the coordinator could not leave: its connection is gone.
    public mutating func sendFailed(now: UInt64) -> [Action] {
        isJoined ? rejoin(now: now) : []
    }

    /// The coordinator's end of the connection closed (the driver saw it gone): start over, as
    /// when it falls silent, without waiting out the silence.
    public mutating func connectionLost(now: UInt64) -> [Action] {
        isJoined ? rejoin(now: now) : []
    }

    /// Asked to stop (SIGTERM, Ctrl-C), between steps.
    public mutating func stopRequested(now: UInt64) -> [Action] {
        guard isRunning else { return [] }
        let wasJoined = isJoined
        state = .stopped(.left)
        return wasJoined ? [.sendGoodbye] : []
    }

    private mutating func rejoin(now: UInt64) -> [Action] {
        state = .joining
        backoff = Liveness.firstHelloBackoff
        nextHello = now
        joiningSince = now
        nextExplanation = now &+ Liveness.firstWaitingExplanation
        return [.reconnect]
    }
}
