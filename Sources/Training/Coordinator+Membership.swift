import Dataset
import Foundation
import Logging
import MLP
import Wire
import ZMQ

/// Who trains which samples as workers come and go.
extension Coordinator {
    /// The run's first assignment of samples, or the resumed one fitted to the workers that came.
    func startAssignment() throws {
        let ids = machine.members.map(\.id)
        if var resumed = assignment {
            for id in resumed.holderIDs where !ids.contains(id) { _ = resumed.remove(id) }
            for id in ids where !resumed.holderIDs.contains(id) { _ = resumed.add(id) }
            assignment = resumed
        } else {
            assignment = SampleAssignment(sampleCount: train.count, holderIDs: ids, batchSize: config.batchSize, seed: config.seed)
        }
        for member in machine.members {
            guard let holder = assignment!.holders.first(where: { $0.id == member.id }) else { continue }
            try sendSamples(holder.stored, to: member)
        }
        logger.info("training with \(machine.members.count) worker(s): \(machine.members.map { "\($0.id) (\($0.host))" }.joined(separator: ", "))")
        observer?.event("training_started", [("step", .int(Int(machine.step))), ("epoch", .int(epoch)), ("workers", .int(machine.members.count)),
                                             ("hosts", .object(machine.members.map { (String($0.id), .string($0.host)) }))])
    }

    /// Between steps: joining workers take their share of the samples.
    func changeMembershipAtStepBoundary() throws {
        for member in machine.stepBoundary() {
            let transfers = assignment!.add(member.id)
            try sendSamples(transfers.map(\.global), to: member)
            logger.info("worker \(member.id) (\(member.host)) takes part from step \(machine.step + 1) with \(transfers.count) samples")
            observer?.event("worker_joined", [("worker", .int(Int(member.id))), ("step", .int(Int(machine.step))),
                                              ("workers", .int(machine.members.count)), ("host", .string(member.host))])
        }
    }

    /// Declares a member lost, or gone after its goodbye: it stops counting at once,
    /// and its samples, the batch in hand included, go to the others.
    func lose(_ id: UInt32, reason: String, cleanly: Bool = false) throws {
        guard let member = machine.lose(id) else { return }
        lastHeard[id] = nil
        if let received = gradients.removeValue(forKey: id) { spareMessages.append(received.message) }
        if cleanly {
            logger.info("worker \(id) (\(member.host)) left at step \(machine.step)")
        } else {
            logger.warning("worker \(id) (\(member.host)) lost at step \(machine.step): \(reason)")
        }
        if assignment != nil {
            let moves = assignment!.remove(id)
            // Before training, nothing has been sent: the first shards will carry the samples.
            if machine.phase == .training { try redistribute(moves) }
        }
        observer?.event("worker_lost", [("worker", .int(Int(id))), ("step", .int(Int(machine.step))),
                                        ("workers", .int(machine.members.count)), ("reason", .string(reason)),
                                        ("host", .string(member.host)), ("cleanly", .bool(cleanly))])
    }

    /// A send found the member's connection closed. It is declared lost by the next `pump`,
    /// once the messages waiting have been read (a worker that left cleanly said goodbye
    /// first), and never in the middle of moving samples, whose order must match the
    /// order the workers receive them in.
    func connectionGone(_ member: CoordinatorStateMachine.Member) {
        closedConnections.insert(member.id)
    }

    /// Declares lost the members whose connection was found closed.
    func settleClosedConnections() throws {
        while let id = closedConnections.first {
            closedConnections.remove(id)
            try lose(id, reason: "its connection is gone")
        }
    }

    func redistribute(_ moves: [(id: UInt32, samples: [SampleAssignment.Transfer])]) throws {
        for (id, samples) in moves where !samples.isEmpty {
            guard let member = machine.allMembers.first(where: { $0.id == id }) else { continue }
            try sendSamples(samples.map(\.global), to: member)
        }
    }

    /// Ships the samples at `globals` to `member`, which appends them to its storage.
    func sendSamples(_ globals: [Int32], to member: CoordinatorStateMachine.Member) throws {
        guard !globals.isEmpty else { return }
        let samples = train.subset(globals)
        try encoder.shard(runID: runID, features: samples.featureCount, classCount: config.model.classCount, labels: samples.labels)
        do {
            try send(to: member.peer, bulk: samples.pixels)
        } catch let error as ZMQError where error.isHostUnreachable {
            connectionGone(member)
        }
    }
}
