import Plan

/// The run's course: its start, each step's plan and completion, epochs, and its end.
extension CoordinatorStateMachine {
    /// Starts training with the members gathered: the first assignment of shards (or the
    /// resumed run's progress over the workers that came), shipped to each.
    public mutating func startTraining(now: UInt64) -> [Action] {
        precondition(isReadyToStart(now: now))
        let holders = members.map { (id: $0.id, weight: $0.threads) }
        // Workers come with empty storage, after a resume too: everything is shipped anew.
        var fresh = assignment?.resumed(holders: holders) ?? ShardAssignment(
            plan: ShardPlan(sampleCount: settings.sampleCount, shardCount: settings.shardCount, batchSize: settings.batchSize, seed: settings.seed),
            holders: holders)
        let shipments = fresh.rebalance()
        state = .training(Training(assignment: fresh))
        // Gathering may have taken long: silence counts from now.
        for member in members { lastHeard[member.id] = now }
        lastHeartbeat = now
        return shipActions(shipments)
    }

    /// Between steps: joining members take whole shards and take part from the next step, and
    /// shards move to follow the members' measured speeds when those call for it.
    mutating func stepBoundary(now: UInt64) -> [Action] {
        guard phase == .training else { return [] }
        var actions = join(now: now)
        let holders = assignment!.holders
        if let weights = balance.proposal(holders: holders, shardCount: settings.shardCount, now: now) {
            actions += shipActions(withTraining { $0.assignment.reweigh(weights) })
            let shards = Dictionary(uniqueKeysWithValues: assignment!.holders.map { ($0.id, $0.shards.count) })
            actions.append(.rebalanced(shards: shards, samplesPerSecond: balance.nanosecondsPerSample.mapValues { 1e9 / $0 }))
        }
        return actions
    }

    /// Joining members that have spoken since their welcome take whole shards, each as large a
    /// share as its threads would have beside the members' measured weights, and take part from
    /// the next step. (A peer that says hello and nothing more never holds up a step.)
    private mutating func join(now: UInt64) -> [Action] {
        guard !joining.isEmpty else { return [] }
        let joiners = joining.filter { !unheard.contains($0.id) }
        guard !joiners.isEmpty else { return [] }
        let members = members
        let threads = { (id: UInt32) in members.first { $0.id == id }?.threads ?? 1 }
        let holders = assignment!.holders
        let weights = joiners.map { (id: $0.id, weight: balance.newcomerWeight(threads: $0.threads, holders: holders, threadsOf: threads)) }
        let shipments = withTraining { $0.assignment.add(weights) }
        let assigned = assignment!.holders
        var actions = shipActions(shipments)
        for member in joiners {
            actions.append(.joined(member, samples: assigned.first { $0.id == member.id }?.storedCount ?? 0))
        }
        self.members = (members + joiners).sorted { $0.id < $1.id }
        joining.removeAll { !unheard.contains($0.id) }
        return actions
    }

    func shipActions(_ shipments: [(id: UInt32, samples: [Int32])]) -> [Action] {
        shipments.compactMap { shipment in member(id: shipment.id).map { .ship(shipment.samples, to: $0) } }
    }

    /// What the driver does next in the run's course, once training has started and no step is
    /// in flight.
    public enum Course: Equatable, Sendable {
        /// Epoch `n` (from 1) begins: its shards' orders are drawn; the driver starts its clock.
        case beginEpoch(Int)
        /// A step is planned (`stepRequests`): carry out these actions (joining members' samples),
        /// then send the requests and await the answers.
        case step([Action])
        /// The step is due but no member is left: carry out these actions and wait for a worker.
        case waitForWorkers([Action])
        /// Epoch `n` is trained: the driver scores, reports and checkpoints it.
        case closeEpoch(Int)
        /// Every epoch is closed.
        case endOfRun
    }

    /// Decides what comes next: the only place where an epoch begins or closes, a step is
    /// planned, or the run reaches its end. Between steps, joining members take part from here.
    public mutating func advance(now: UInt64) -> Course {
        precondition(phase == .training && !stepInFlight)
        switch course.next {
        case .beginEpoch(let epoch):
            course.beginEpoch()
            withTraining { $0.assignment.drawOrders(epoch: epoch) }
            return .beginEpoch(epoch)
        case .closeEpoch(let epoch):
            course.closeEpoch()
            return .closeEpoch(epoch)
        case .endOfRun:
            return .endOfRun
        case .trainStep:
            let actions = stepBoundary(now: now)
            guard !members.isEmpty else { return .waitForWorkers(actions) }
            let snapshots = snapshotActions()
            planStep(now: now)
            return .step(actions + snapshots)
        }
    }

    /// The driver scored the epoch `advance` closed (on the validation set, or the test set
    /// without one): the run's course decides whether the run ends here, before its last epoch
    /// (`Settings.stopping`); the next `advance` then says `.endOfRun`. Returns why it ends here.
    @discardableResult
    public mutating func epochScored(accuracy: Double) -> EarlyEnd? {
        precondition(phase == .training && !stepInFlight)
        return course.scored(accuracy: accuracy)
    }

    /// Opens the next step: each member holding chunks of this step gets a request
    /// (`stepRequests`), and the step waits for each answer until the deadline.
    mutating func planStep(now: UInt64) {
        guard case .trainStep(let stepInEpoch) = course.next else { preconditionFailure("no step is due: \(course)") }
        step += 1
        let members = members
        withTraining { training in
            precondition(training.awaiting.isEmpty)
            training.stepInFlight = true
            training.stepAbandoned = false
            // Requests are rebuilt in place, keeping their buffers, when the members are the same as last step's.
            var count = 0
            for member in members {
                guard let holder = training.assignment.holders.first(where: { $0.id == member.id }) else { continue }
                if count < training.stepRequests.count, training.stepRequests[count].member.id == member.id {
                    training.stepRequests[count].reset()
                } else if count < training.stepRequests.count {
                    training.stepRequests[count] = StepRequest(member: member)
                } else {
                    training.stepRequests.append(StepRequest(member: member))
                }
                training.assignment.appendChunks(of: holder.shards, heldBy: member.id, step: stepInEpoch, to: &training.stepRequests[count].chunks)
                guard !training.stepRequests[count].indices.isEmpty else { continue }
                training.awaiting[member.id] = 1
                count += 1
            }
            training.stepRequests.removeSubrange(count...)
            training.stepStarted = now
            training.lastProbe = now
            training.lastAccepted = 0
        }
    }

    /// The step is done: its chunks count as trained, unless every member was lost during it.
    public mutating func completeStep() {
        let abandoned = withTraining { training in
            precondition(training.awaiting.isEmpty && training.stepInFlight)
            training.stepInFlight = false
            return training.stepAbandoned
        }
        if !abandoned { course.commitStep() }
    }

    /// Training is over: every member is told, and told again until it acknowledges or the linger passes.
    public mutating func finish(now: UInt64) -> [Action] {
        guard phase == .gathering || phase == .training else { return [] }
        state = .finishing(Finishing(unacknowledged: Set(allMembers.map(\.id)), shutdownSent: now, finishStarted: now))
        return allMembers.map { .shutdown($0) }
    }
}
