import Plan

/// Verification by recomputation: a chunk's gradient is deterministic (same chunk, same kernels,
/// same integers), so the coordinator can recompute any answer and compare it bit for bit. This
/// machine decides which answers are checked, when the run's state must be kept so that a liar's
/// answers can be undone, and what a mismatch does: the member is expelled, its key (or host)
/// refused for the rest of the run, and the run rolled back to before its first unchecked answer,
/// from where the others train the same chunks again. The driver recomputes and compares.
extension CoordinatorStateMachine {
    /// Whether `draw` (uniform in [0, 1), from a generator the members cannot predict) has the
    /// answer of a member that has had `answered` answers taken checked: at the run's fraction,
    /// and on probation at first, the first always, the n-th with probability 1/n until that falls
    /// to the fraction. A member that lies in every answer is caught at its first; one that lies
    /// later in one answer out of k is caught with probability about the fraction per lie.
    static func checks(draw: Double, answered: Int, fraction: Double) -> Bool {
        guard fraction > 0 else { return false }
        return draw < max(fraction, 1 / Double(answered + 1))
    }

    /// The current step's answered requests to check, once every answer is in and before any is
    /// used: each with its own draw from `generator`; every one when the step looks diverged
    /// (`diverging`: a divergence is first put down to a member whose answer does not recompute).
    /// A member whose answer goes unchecked has, from this step on, an answer only a rollback can undo.
    public mutating func answersToVerify<Generator: RandomNumberGenerator>(using generator: inout Generator, diverging: Bool) -> [Int] {
        guard settings.verifyFraction > 0, case .training(let training) = state else { return [] }
        var chosen: [Int] = []
        for (index, request) in training.stepRequests.enumerated() where request.state == .answered {
            let id = request.member.id
            // Other kernels round the same chunk otherwise in the last bits: such an answer cannot be compared.
            let comparable = settings.blasCore.map { $0 == request.member.blasCore } ?? true
            let answered = answersTaken[id, default: 0]
            answersTaken[id] = answered + 1
            if comparable, diverging || Self.checks(draw: Double.random(in: 0..<1, using: &generator), answered: answered, fraction: settings.verifyFraction) {
                chosen.append(index)
            } else if unverifiedSince[id] == nil {
                unverifiedSince[id] = step
            }
        }
        return chosen
    }

    /// The driver's recomputation of request `request`'s chunks did not give its member's answer:
    /// the member is expelled (`verificationFailed`, then lost), its identity refused for the rest
    /// of the run, the step abandoned, and the run rolled back to the snapshot from before the
    /// member's first unchecked answer (or to before this step, when every earlier one was checked).
    public mutating func verificationFailed(request: Int, now: UInt64) -> [Action] {
        guard case .training(let training) = state, training.stepRequests.indices.contains(request),
              let member = member(id: training.stepRequests[request].member.id) else { return [] }
        let failedStep = step
        let target = unverifiedSince[member.id].map { $0 - 1 } ?? failedStep - 1
        expelled.insert(member.identity)
        var actions: [Action] = [.verificationFailed(member, step: failedStep)]
        actions += lose([(member.id, .failedVerification(step: failedStep))], now: now)
        rollBack(to: target)
        actions.append(.rollBack(toStep: target))
        return actions
    }

    /// Abandons the step in flight and goes back to where the run stood after `target` steps:
    /// its course there, that epoch's shard orders, and no member's answer after it counting as
    /// unchecked. The members and who holds which shards stay as they are now.
    mutating func rollBack(to target: UInt64) {
        guard let course = snapshotCourses[target] ?? (target == step - 1 ? self.course : nil) else {
            preconditionFailure("no snapshot of step \(target) to roll back to")
        }
        withTraining { training in
            training.stepInFlight = false
            training.awaiting.removeAll()
            for index in training.stepRequests.indices { training.stepRequests[index].state = .void }
            training.stepRequests.removeAll(keepingCapacity: true)
        }
        step = target
        self.course = course
        if course.epoch > 0 { withTraining { $0.assignment.drawOrders(epoch: course.epoch) } }
        for (id, since) in unverifiedSince where since > target { unverifiedSince[id] = nil }
        for kept in snapshotCourses.keys where kept > target { snapshotCourses[kept] = nil }
    }

    /// At a step boundary, before step `step + 1` is planned: the snapshots verification needs. A
    /// member whose answers have all been checked may have its next one go unchecked, so the state
    /// before it is kept (at a fraction of 1 every answer is checked before it is used, and no
    /// snapshot is needed); a snapshot no member's first unchecked answer follows is let go.
    mutating func snapshotActions() -> [Action] {
        guard settings.verifyFraction > 0 else { return [] }
        var actions: [Action] = []
        // One at a time and without sets: between joins a step finds nothing to do here and allocates nothing.
        while let unneeded = snapshotCourses.keys.first(where: { kept in !members.contains { unverifiedSince[$0.id] == kept + 1 } }) {
            snapshotCourses[unneeded] = nil
            actions.append(.dropSnapshot(step: unneeded))
        }
        if settings.verifyFraction < 1, members.contains(where: { unverifiedSince[$0.id] == nil }), snapshotCourses[step] == nil {
            snapshotCourses[step] = course
            actions.append(.keepSnapshot(step: step))
        }
        return actions
    }
}
