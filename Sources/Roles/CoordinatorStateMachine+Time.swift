import Plan

/// Time and loss: heartbeats, probes, the step's deadline, silence, and members
/// that cannot be reached. Every loss of one instant is settled together.
extension CoordinatorStateMachine {
    /// How a send to a member failed.
    public enum SendFailure: Equatable, Sendable {
        /// Its connection is closed.
        case unreachable
        /// Its queue is full: it has stopped reading.
        case queueFull
    }

    /// What is due at `now`: heartbeats, probes of the members a step still waits for, and
    /// the losses of members past the step's deadline, silent too long, or unreachable.
    public mutating func tick(now: UInt64) -> [Action] {
        switch state {
        case .gathering, .training:
            var actions: [Action] = []
            var losses = pendingLosses
            pendingLosses.removeAll()
            if now &- lastHeartbeat >= Liveness.heartbeatInterval {
                lastHeartbeat = now
                for member in members { actions.append(.heartbeat(member)) }
                for member in joining { actions.append(.heartbeat(member)) }
            }
            if case .training(let training) = state, !training.awaiting.isEmpty {
                if now &- training.stepStarted >= settings.stepDeadline {
                    let seconds = Liveness.seconds(settings.stepDeadline)
                    for id in training.awaiting.keys.sorted() { losses.append((id, .missedDeadline(step: step, seconds: seconds))) }
                } else if let deadline = probationDeadline(training), now >= deadline {
                    let seconds = Liveness.seconds(deadline &- training.stepStarted)
                    for id in training.awaiting.keys.sorted() { losses.append((id, .missedDeadline(step: step, seconds: seconds))) }
                } else if now &- training.lastProbe >= Liveness.probeInterval, now &- training.stepStarted < Liveness.probeWindow {
                    // A slow step: a heartbeat to each worker still awaited finds a closed connection
                    // at once, rather than at the next second's heartbeat or the deadline.
                    for member in members where training.awaiting[member.id] != nil { actions.append(.heartbeat(member)) }
                    withTraining { $0.lastProbe = now }
                }
            }
            // Members awaited by the step have the step's deadline; the rest must keep up their heartbeats.
            // Two loops rather than `members + joining`: the step loop allocates nothing.
            for member in members where isSilent(member, now: now) {
                losses.append((member.id, .silent(seconds: Liveness.seconds(settings.stepDeadline))))
            }
            for member in joining where isSilent(member, now: now) {
                losses.append((member.id, .silent(seconds: Liveness.seconds(settings.stepDeadline))))
            }
            return losses.isEmpty ? actions : actions + lose(losses, now: now)
        case .finishing(var finishing):
            if finishing.unacknowledged.isEmpty || now &- finishing.finishStarted >= Liveness.shutdownLinger {
                state = .finished
                return []
            }
            guard now &- finishing.shutdownSent >= Liveness.shutdownResendInterval else { return [] }
            finishing.shutdownSent = now
            state = .finishing(finishing)
            return allMembers.filter { finishing.unacknowledged.contains($0.id) }.map { .shutdown($0) }
        case .finished:
            return []
        }
    }

    /// When the step stops waiting for the members it still awaits, if every one of them is on
    /// probation (its key or host was lost before for silence, a missed deadline or a bad
    /// answer: `backoffs`) and the others have answered: as long again as the others took, and at
    /// least `Liveness.probationGrace`, rather than the full step deadline. A member that keeps
    /// stalling costs the run that, not a deadline, each time its back-off lets it back.
    func probationDeadline(_ training: Training) -> UInt64? {
        guard training.lastAccepted > training.stepStarted,
              training.awaiting.keys.allSatisfy({ id in member(id: id).map { backoffs[$0.identity] != nil } ?? false }) else { return nil }
        return training.lastAccepted &+ max(Liveness.probationGrace, training.lastAccepted &- training.stepStarted)
    }

    private func isSilent(_ member: Member, now: UInt64) -> Bool {
        if case .training(let training) = state, training.awaiting[member.id] != nil { return false }
        return now > (lastHeard[member.id] ?? now) &+ settings.stepDeadline
    }

    /// A heartbeat to every member now, before a long pause of the coordinator's (evaluation, checkpoints).
    public mutating func heartbeats(now: UInt64) -> [Action] {
        guard phase == .training || phase == .gathering else { return [] }
        lastHeartbeat = now
        return allMembers.map { .heartbeat($0) }
    }

    /// Nanoseconds until the machine next has something to do on its own, for the driver's poll.
    public func nanosecondsUntilDue(now: UInt64) -> UInt64 {
        var due = lastHeartbeat &+ Liveness.heartbeatInterval
        switch state {
        case .training(let training) where !training.awaiting.isEmpty:
            due = min(due, training.stepStarted &+ settings.stepDeadline)
            if now &- training.stepStarted < Liveness.probeWindow { due = min(due, training.lastProbe &+ Liveness.probeInterval) }
        case .finishing(let finishing):
            due = min(finishing.shutdownSent &+ Liveness.shutdownResendInterval, finishing.finishStarted &+ Liveness.shutdownLinger)
        default:
            break
        }
        return due > now ? due - now : 0
    }

    /// A send to member `id` failed; it is lost at the next `tick`, once the messages waiting
    /// have been read (a worker that left cleanly said goodbye first), and never in the middle
    /// of moving samples, whose order must match the order the workers receive them in.
    public mutating func sendFailed(to id: UInt32, _ failure: SendFailure) {
        guard member(id: id) != nil, !pendingLosses.contains(where: { $0.id == id }) else { return }
        pendingLosses.append((id, failure == .queueFull ? .notReading : .connectionGone))
        if case .finishing(var finishing) = state {
            finishing.unacknowledged.remove(id)
            state = .finishing(finishing)
        }
    }

    /// Members that stop taking part at the same instant: they stop counting at once, their
    /// shards go to those who stay, and so do their chunks of the step in flight (answered or
    /// not: the driver drops a lost member's answers), to be computed again by the shards' new
    /// holders. The step then trains the same chunks as if nobody had been lost.
    mutating func lose(_ losses: [(id: UInt32, reason: LossReason)], now: UInt64) -> [Action] {
        guard !losses.isEmpty else { return [] }
        var actions: [Action] = []
        var gone: [UInt32] = []
        for (id, reason) in losses where !gone.contains(id) {
            let tookPart = members.contains { $0.id == id }
            guard let member = removeMember(id) else { continue }
            gone.append(id)
            balance.forget(member: id)
            actions.append(.lost(member, reason))
            if tookPart { backOff(member, after: reason, now: now) }
        }
        guard phase == .training, !gone.isEmpty else {
            // Before training nothing has been shipped: the first shipments will carry the shards.
            return actions
        }
        let members = members, stepInEpoch = course.stepsDone
        let shipments = withTraining { training -> [(id: UInt32, samples: [Int32])] in
            let shipments = training.assignment.remove(gone)
            guard training.stepInFlight else { return shipments }
            var orphanShards: [Int] = []
            for index in training.stepRequests.indices
            where gone.contains(training.stepRequests[index].member.id) && training.stepRequests[index].state != .void {
                orphanShards += training.stepRequests[index].shards
                training.stepRequests[index].state = .void
            }
            guard !orphanShards.isEmpty else { return shipments }
            if members.isEmpty {
                // Nobody is left to compute them: the step is abandoned and trained again later.
                training.stepAbandoned = true
                training.awaiting.removeAll()
                for index in training.stepRequests.indices { training.stepRequests[index].state = .void }
                return shipments
            }
            for member in members {
                let theirs = orphanShards.filter { training.assignment.holder(of: $0) == member.id }.sorted()
                guard !theirs.isEmpty else { continue }
                var request = StepRequest(member: member)
                training.assignment.appendChunks(of: theirs, heldBy: member.id, step: stepInEpoch, to: &request.chunks)
                training.stepRequests.append(request)
                training.awaiting[member.id, default: 0] += 1
            }
            // The new holders get the step's full deadline for the chunks they were just asked.
            training.stepStarted = now
            training.lastProbe = now
            return shipments
        }
        return actions + shipActions(shipments)
    }

    /// A member that took part and was lost for silence, a missed deadline or a bad answer holds
    /// the run up each time it comes back: its identity is told to try later, for longer each time
    /// (`Liveness.rejoinBackoff`). One killed or leaving costs nothing and is not held to it.
    private mutating func backOff(_ member: Member, after reason: LossReason, now: UInt64) {
        switch reason {
        case .silent, .missedDeadline, .impossibleAnswer, .failedVerification:
            let losses = (backoffs[member.identity]?.losses ?? 0) + 1
            backoffs[member.identity] = (losses, now &+ Liveness.rejoinBackoff(losses: losses))
        case .connectionGone, .notReading, .reportedFailure, .left:
            break
        }
    }

    private mutating func removeMember(_ id: UInt32) -> Member? {
        if awaiting[id] != nil { withTraining { _ = $0.awaiting.removeValue(forKey: id) } }
        lastHeard[id] = nil
        unheard.remove(id)
        // Its answers that went unchecked stay in the weights: nothing checks them once it is gone.
        unverifiedSince[id] = nil
        answersTaken[id] = nil
        if let index = joining.firstIndex(where: { $0.id == id }) { return joining.remove(at: index) }
        guard let index = members.firstIndex(where: { $0.id == id }) else { return nil }
        return members.remove(at: index)
    }
}
