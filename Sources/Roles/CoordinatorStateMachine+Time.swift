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
        switch phase {
        case .gathering, .training:
            var actions: [Action] = []
            var losses = pendingLosses
            pendingLosses.removeAll()
            if now &- lastHeartbeat >= Liveness.heartbeatInterval {
                lastHeartbeat = now
                for member in members { actions.append(.heartbeat(member)) }
                for member in joining { actions.append(.heartbeat(member)) }
            }
            if !awaiting.isEmpty {
                if now &- stepStarted >= settings.stepDeadline {
                    let seconds = Liveness.seconds(settings.stepDeadline)
                    for id in awaiting.keys.sorted() { losses.append((id, .missedDeadline(step: step, seconds: seconds))) }
                } else if now &- lastProbe >= Liveness.probeInterval, now &- stepStarted < Liveness.probeWindow {
                    // A slow step: a heartbeat to each worker still awaited finds a closed connection
                    // at once, rather than at the next second's heartbeat or the deadline.
                    lastProbe = now
                    for member in members where awaiting[member.id] != nil { actions.append(.heartbeat(member)) }
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
        case .finishing:
            if unacknowledged.isEmpty || now &- finishStarted >= Liveness.shutdownLinger {
                phase = .finished
                return []
            }
            guard now &- shutdownSent >= Liveness.shutdownResendInterval else { return [] }
            shutdownSent = now
            return allMembers.filter { unacknowledged.contains($0.id) }.map { .shutdown($0) }
        case .finished:
            return []
        }
    }

    private func isSilent(_ member: Member, now: UInt64) -> Bool {
        awaiting[member.id] == nil && now > (lastHeard[member.id] ?? now) &+ settings.stepDeadline
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
        if !awaiting.isEmpty {
            due = min(due, stepStarted &+ settings.stepDeadline)
            if now &- stepStarted < Liveness.probeWindow { due = min(due, lastProbe &+ Liveness.probeInterval) }
        }
        if phase == .finishing { due = min(shutdownSent &+ Liveness.shutdownResendInterval, finishStarted &+ Liveness.shutdownLinger) }
        return due > now ? due - now : 0
    }

    /// A send to member `id` failed; it is lost at the next `tick`, once the messages waiting
    /// have been read (a worker that left cleanly said goodbye first), and never in the middle
    /// of moving samples, whose order must match the order the workers receive them in.
    public mutating func sendFailed(to id: UInt32, _ failure: SendFailure) {
        guard member(id: id) != nil, !pendingLosses.contains(where: { $0.id == id }) else { return }
        pendingLosses.append((id, failure == .queueFull ? .notReading : .connectionGone))
        if phase == .finishing { unacknowledged.remove(id) }
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
            guard let member = removeMember(id) else { continue }
            gone.append(id)
            actions.append(.lost(member, reason))
        }
        guard phase == .training, var assignment, !gone.isEmpty else {
            // Before training nothing has been shipped: the first shipments will carry the shards.
            return actions
        }
        actions += shipActions(assignment.remove(gone))
        self.assignment = assignment
        guard stepInFlight else { return actions }
        var orphanShards: [Int] = []
        for index in stepRequests.indices where gone.contains(stepRequests[index].member.id) && stepRequests[index].state != .void {
            orphanShards += stepRequests[index].shards
            stepRequests[index].state = .void
        }
        guard !orphanShards.isEmpty else { return actions }
        if members.isEmpty {
            // Nobody is left to compute them: the step is abandoned and trained again later.
            stepAbandoned = true
            awaiting.removeAll()
            for index in stepRequests.indices { stepRequests[index].state = .void }
            return actions
        }
        for member in members {
            let theirs = orphanShards.filter { assignment.holder(of: $0) == member.id }.sorted()
            guard !theirs.isEmpty else { continue }
            var request = StepRequest(member: member)
            assignment.appendChunks(of: theirs, heldBy: member.id, step: course.stepsDone, to: &request.chunks)
            stepRequests.append(request)
            awaiting[member.id, default: 0] += 1
        }
        // The new holders get the step's full deadline for the chunks they were just asked.
        stepStarted = now
        lastProbe = now
        return actions
    }

    private mutating func removeMember(_ id: UInt32) -> Member? {
        awaiting[id] = nil
        lastHeard[id] = nil
        if let index = joining.firstIndex(where: { $0.id == id }) { return joining.remove(at: index) }
        guard let index = members.firstIndex(where: { $0.id == id }) else { return nil }
        return members.remove(at: index)
    }
}
