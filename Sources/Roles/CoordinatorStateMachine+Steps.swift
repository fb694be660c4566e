/// The run's course: its start, each step's plan and completion, epochs, and its end.
extension CoordinatorStateMachine {
    /// Starts training with the members gathered: the first assignment of samples (or the
    /// resumed one, fitted to the workers that came), shipped to each.
    public mutating func startTraining(now: UInt64) -> [Action] {
        precondition(isReadyToStart(now: now))
        phase = .training
        reservedIDs = []
        let ids = members.map(\.id)
        if var resumed = assignment {
            _ = resumed.remove(resumed.holderIDs.filter { !ids.contains($0) })
            for id in ids where !resumed.holderIDs.contains(id) { _ = resumed.add(id) }
            assignment = resumed
        } else {
            assignment = SampleAssignment(sampleCount: settings.sampleCount, holderIDs: ids, batchSize: settings.batchSize, seed: settings.seed)
        }
        // Gathering may have taken long: silence counts from now.
        for member in members { lastHeard[member.id] = now }
        lastHeartbeat = now
        return members.compactMap { member in
            guard let holder = assignment!.holders.first(where: { $0.id == member.id }), !holder.stored.isEmpty else { return nil }
            return .ship(holder.stored, to: member)
        }
    }

    /// Between steps: joining members take their share of the samples and take part from the next step.
    public mutating func stepBoundary(now: UInt64) -> [Action] {
        guard !joining.isEmpty, var assignment else { return [] }
        var actions: [Action] = []
        for member in joining {
            let transfers = assignment.add(member.id)
            if !transfers.isEmpty { actions.append(.ship(transfers.map(\.global), to: member)) }
            actions.append(.joined(member, samples: transfers.count))
        }
        self.assignment = assignment
        members = (members + joining).sorted { $0.id < $1.id }
        joining = []
        return actions
    }

    /// Every sample of the epoch is trained.
    public var epochFinished: Bool { assignment?.epochFinished ?? false }

    /// Reshuffles every member's samples for a new epoch.
    public mutating func startEpoch() { assignment?.startEpoch() }

    /// Opens the next step: each member with samples left gets its batch (`stepBatches`), and
    /// the step waits for each one's gradient until the deadline.
    public mutating func planStep(now: UInt64) {
        precondition(phase == .training && awaiting.isEmpty && assignment != nil)
        step += 1
        stepBatches.removeAll(keepingCapacity: true)
        answered.removeAll(keepingCapacity: true)
        for member in members {
            let indices = assignment!.takeBatch(for: member.id)
            guard !indices.isEmpty else { continue }
            stepBatches.append((member, indices))
            awaiting[member.id] = indices.count
        }
        stepStarted = now
        lastProbe = now
    }

    /// The step is done: the batches whose gradients were accepted count as trained.
    public mutating func completeStep() {
        precondition(awaiting.isEmpty)
        for id in answered { assignment?.commit(id) }
        answered.removeAll(keepingCapacity: true)
    }

    /// Training is over: every member is told, and told again until it acknowledges or the linger passes.
    public mutating func finish(now: UInt64) -> [Action] {
        guard phase == .gathering || phase == .training else { return [] }
        phase = .finishing
        awaiting.removeAll()
        unacknowledged = Set(allMembers.map(\.id))
        finishStarted = now
        shutdownSent = now
        return allMembers.map { .shutdown($0) }
    }
}
