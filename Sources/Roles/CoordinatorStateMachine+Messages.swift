import MLP
import Wire

/// What the coordinator decides about each message that arrives.
extension CoordinatorStateMachine {
    /// A hello from `peer`. `address` is where the connection comes from as the transport
    /// tells it (an IP address over tcp); `key` is the public key it authenticated with.
    public mutating func receiveHello(_ hello: Hello, from peer: Peer, address: String? = nil, key: String? = nil,
                                      now: UInt64) -> [Action] {
        if let existing = member(at: peer) {
            return [count(.secondHello(worker: existing.id))]
        }
        func refuse(_ reason: RefuseReason, _ text: String) -> [Action] {
            [count(.refusedHello(reason)), .refuse(peer, reason, text, answeringRun: nil)]
        }
        guard phase == .gathering || phase == .training else {
            return refuse(.runFinished, "this run is over: training finished")
        }
        let previous = hello.previousWorkerID
        if previous != 0, let known = keyOfID[previous], known != key {
            return refuse(.notAuthorised, "worker id \(previous) belongs to another worker's key")
        }
        if previous != 0, member(id: previous) != nil {
            return refuse(.duplicateID, "worker id \(previous) is in use by a live worker")
        }
        if let core = settings.blasCore, hello.blasCore != core, !hello.acceptsOtherKernels {
            return refuse(.otherKernels, "this run computes on \(core) BLAS kernels and this worker on \(hello.blasCore.isEmpty ? "unnamed ones" : hello.blasCore): "
                          + "its gradients would differ in the last bits and the run would no longer give the same weights as one process; "
                          + "run the worker with DPTRAIN_BLAS_CORE=\(core) if its CPU has them, or pass --accept-other-kernels to join anyway")
        }
        if settings.compute == .bf16, !hello.computesBF16 {
            return refuse(.noBF16, "this run computes in bf16 and this worker cannot: its CPU has neither AVX512-BF16 nor AMX "
                          + "(or its dptrain predates --compute); run it on a CPU that has them, or train in float32")
        }
        guard members.count + joining.count < settings.maxWorkers else {
            return refuse(.runFull, "this run has its \(settings.maxWorkers) workers and does not take more")
        }
        let identity = key ?? address ?? hello.host
        if expelled.contains(identity) {
            return refuse(.notAuthorised, "\(key == nil ? "this host" : "this worker's key") sent answers that failed verification in this run: refused until it ends")
        }
        if let backoff = backoffs[identity], now < backoff.until {
            return refuse(.tryLater, "\(key == nil ? "this host" : "this worker's key") lost a worker for silence or bad answers \(backoff.losses == 1 ? "once" : "\(backoff.losses) times"): "
                          + "try again in \(Int(Liveness.seconds(backoff.until - now).rounded(.up))) s")
        }
        if joining.count >= Liveness.mostJoining {
            return refuse(.tryLater, "\(Liveness.mostJoining) workers are joining this run already: try again in a moment")
        }
        let id: UInt32
        let reservedIDs = reservedIDs
        if let reserved = reservedIDs.firstIndex(of: previous) {
            id = reservedIDs[reserved]                 // back in its own place after a resume
            withGathering { _ = $0.reservedIDs.remove(at: reserved) }
        } else if previous != 0, previous < UInt32.max, !reservedIDs.contains(previous) {
            id = previous                             // a worker coming back keeps its id
            nextID = max(nextID, previous + 1)
        } else {
            // A newcomer never takes a place kept for a worker that has not come back yet.
            while reservedIDs.contains(nextID) || member(id: nextID) != nil || keyOfID[nextID] != nil { nextID += 1 }
            id = nextID
            nextID += 1
        }
        let host = address.map { "\(hello.host) at \($0)" } ?? hello.host
        let member = Member(id: id, peer: peer, host: host, key: key, blasCore: hello.blasCore, threads: Int(hello.threads),
                            origin: address ?? hello.host)
        if let key { keyOfID[id] = key }
        lastHeard[id] = now
        if case .gathering(let gathering) = state, settings.restarted, gathering.firstArrival == nil {
            withGathering { $0.firstArrival = now }
        }
        // Beyond the workers the run starts with, a worker joins at the first step boundary.
        if phase == .gathering && members.count < settings.expectedWorkers {
            members.append(member)
            members.sort { $0.id < $1.id }
        } else {
            joining.append(member)
            unheard.insert(id)
        }
        return [.welcome(member, sharedMemory: hello.sharedMemory)]
    }

    /// A gradient for `gradientStep` whose figures are `answer`: kept only when it answers this
    /// member's next request of the current step. An answer that no honest member can send (a
    /// sample count other than the request's, a fixed-point value beyond its chunks' bound, so
    /// that no sum can overflow, a width its chunks cannot need, a correct count or loss sum that
    /// its samples cannot give) is rejected and its member lost: its chunks go to the others.
    public mutating func receiveGradient(step gradientStep: UInt64, _ answer: AnswerFigures, from peer: Peer, now: UInt64,
                                         computeNanoseconds: UInt64 = 0) -> GradientDecision {
        func drop(_ reason: DropReason) -> GradientDecision {
            dropped[reason.kind, default: 0] += 1
            return .drop(reason)
        }
        guard let member = member(at: peer) else { return drop(.fromStranger(.gradient)) }
        lastHeard[member.id] = now
        guard phase == .training else { return drop(.gradientBeforeTraining(worker: member.id)) }
        if gradientStep < step { return drop(.staleGradient(worker: member.id, step: gradientStep, current: step)) }
        if gradientStep > step { return drop(.futureGradient(worker: member.id, step: gradientStep, current: step)) }
        guard let (request, expected, chunks) = pendingRequest(of: member.id) else {
            return drop(.gradientNotAwaited(worker: member.id, step: step))
        }
        if let reason = answer.impossibility(worker: member.id, expectedSamples: expected, chunks: chunks,
                                             loss: settings.loss, classCount: settings.classCount) {
            dropped[reason.kind, default: 0] += 1
            return .reject(reason, lose([(member.id, .impossibleAnswer(reason))], now: now))
        }
        withTraining { training in
            training.stepRequests[request].state = .answered
            training.lastAccepted = now
            let left = training.awaiting[member.id]! - 1
            training.awaiting[member.id] = left > 0 ? left : nil
        }
        balance.record(member: member.id, samples: answer.sampleCount, computeNanoseconds: computeNanoseconds, now: now)
        return .accept(member, request: request)
    }

    /// Member `id`'s next request of the step that it has not answered: its index, its samples
    /// and its chunks; nil when the step awaits nothing of it. (Read apart from the mutation that
    /// follows, so that no copy of the step's requests is alive while they change.)
    private func pendingRequest(of id: UInt32) -> (index: Int, samples: Int, chunks: Int)? {
        guard case .training(let training) = state, training.awaiting[id] != nil,
              let index = training.stepRequests.firstIndex(where: { $0.member.id == id && $0.state == .pending }) else { return nil }
        return (index, training.stepRequests[index].indices.count, training.stepRequests[index].chunkSizes.count)
    }

    public mutating func receiveHeartbeat(from peer: Peer, now: UInt64) -> [Action] {
        guard let member = member(at: peer) else { return strangerOfThisRun(peer, .heartbeat) }
        lastHeard[member.id] = now
        unheard.remove(member.id)
        return []
    }

    /// A goodbye: a member leaving at the end of its step, or acknowledging the shutdown.
    public mutating func receiveGoodbye(from peer: Peer, now: UInt64) -> [Action] {
        guard let member = member(at: peer) else { return strangerOfThisRun(peer, .goodbye) }
        if case .finishing(var finishing) = state {
            finishing.unacknowledged.remove(member.id)
            state = .finishing(finishing)
            return []
        }
        if phase == .finished { return [] }
        return lose([(member.id, .left)], now: now)
    }

    /// A member says it cannot go on. Only the coordinator's own view can stop the run (it
    /// checks its weights every step and its accuracy every epoch), so the member is lost
    /// and the run goes on without it.
    public mutating func receiveFailure(_ reason: String, from peer: Peer, now: UInt64) -> [Action] {
        guard let member = member(at: peer) else { return [count(.fromStranger(.failure))] }
        return lose([(member.id, .reportedFailure(reason))], now: now)
    }

    /// A message that broke the protocol, from `peer`.
    public mutating func receiveInvalid(_ error: WireError, from peer: Peer, now: UInt64) -> [Action] {
        var actions = [count(.malformed("\(error)"))]
        switch error {
        case .unsupportedVersion(let version):
            actions.append(.refuseOtherVersion(peer, version: version))
        case .runMismatch(let otherRun, _) where member(at: peer) == nil:
            // Most likely a worker of the coordinator that ran here before this one: tell it at
            // once (once a second at most), so that it rejoins without waiting out its timeout,
            // or, when this run is over, so that it stops.
            if let last = lastOtherRunNotice[peer], now &- last < Liveness.otherRunNoticeInterval { break }
            if lastOtherRunNotice.count > 4096 { lastOtherRunNotice.removeAll() }   // strangers cannot grow it without bound
            lastOtherRunNotice[peer] = now
            if phase == .finishing || phase == .finished {
                actions.append(.refuse(peer, .runFinished, "this coordinator's run is over", answeringRun: otherRun))
            } else {
                actions.append(.refuse(peer, .otherRun, "this coordinator runs another run; say hello to join it", answeringRun: otherRun))
            }
        default:
            break
        }
        return actions
    }

    /// A message whose frames could not even be split into the protocol's three.
    public mutating func receiveMisshapen(frames: Int) -> [Action] { [count(.frameCount(frames))] }

    /// A heartbeat or goodbye of this run from a peer that is not a member: after the run is
    /// over, a worker that missed the shutdown; tell it, so it stops rather than rejoins.
    mutating func strangerOfThisRun(_ peer: Peer, _ type: MessageType) -> [Action] {
        let drop = count(.fromStranger(type))
        guard phase == .finishing || phase == .finished else { return [drop] }
        return [drop, .refuse(peer, .runFinished, "this run is over: training finished", answeringRun: nil)]
    }
}
