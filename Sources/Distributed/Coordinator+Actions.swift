import Dataset
import Foundation
import Logging
import MLP
import Roles
import Training
import Wire
import ZMQ

/// Carrying out what the state machine decided: every send, every log line and
/// every metrics event about members. No send ever waits: a member whose queue
/// is full has stopped reading, and the machine handles it as it does any loss.
extension Coordinator {
    func perform(_ actions: [CoordinatorStateMachine.Action]) {
        if !actions.isEmpty { observer?.membersChanged(training: machine.members.count, joining: machine.joining.count) }
        for action in actions {
            switch action {
            case let .welcome(member, offer):
                let grant = sharedMemoryGrant(for: member, offer: offer)
                let through = grant == nil ? "" : ", weights and gradients through shared memory"
                if machine.phase == .gathering, machine.members.contains(member) {
                    logger.info("\(machine.members.count) of \(counted(machine.settings.expectedWorkers, "worker")) joined (worker \(member.id) from \(member.host)\(through))")
                } else {
                    logger.info("worker \(member.id) joined from \(member.host)\(through)")
                }
                if member.blasCore != BLAS.coreName {
                    logger.warning("worker \(member.id) computes on \(member.blasCore) BLAS kernels, this run on \(BLAS.coreName): it accepted that the weights may now differ in the last bits from one process's\(options.verify > 0 ? ", and its answers cannot be verified by recomputation" : "")")
                }
                let configuration = runConfiguration()
                // A secure parameter server must know the member's key before the member reaches it.
                sendMemberKeys()
                do {
                    try encoder.welcome(Welcome(workerID: member.id, configuration: configuration.encoded(),
                                                parameterCount: parameters.count, sharedMemory: grant), runID: runID)
                    send(to: member)
                } catch {
                    logger.error("could not welcome worker \(member.id): \(error)")
                }
            case let .refuseOtherVersion(peer, version):
                let text = MessageEncoder.otherVersionText(workerVersion: version)
                if logOnce("refusal") { logger.warning("refused a worker: \(text)") } else { logger.debug("refused a worker: \(text)") }
                do {
                    try encoder.refuse(Refusal(reason: .wrongVersion, text: text), runID: runID, version: version)
                    _ = try sendEncoded(to: peer)
                } catch {
                    logger.debug("could not send a refusal: \(error)")
                }
            case let .refuse(peer, reason, text, answeringRun):
                if reason != .otherRun, reason != .runFinished {
                    if logOnce("refusal") { logger.info("refused a worker: \(text)") } else { logger.debug("refused a worker: \(text)") }
                }
                do {
                    try encoder.refuse(Refusal(reason: reason, text: text), runID: answeringRun ?? runID)
                    _ = try sendEncoded(to: peer)
                } catch {
                    logger.debug("could not send a refusal: \(error)")
                }
            case .heartbeat(let member):
                encoder.signal(.heartbeat, runID: runID, step: machine.step)
                send(to: member)
            case .shutdown(let member):
                encoder.signal(.shutdown, runID: runID, step: machine.step)
                send(to: member)
            case let .ship(globals, member):
                ship(globals, to: member)
            case let .joined(member, samples):
                logger.info("worker \(member.id) (\(member.host)) takes part from step \(machine.step + 1) with \(samples) samples")
                observer?.event("worker_joined", [("worker", .int(Int(member.id))), ("step", .int(Int(machine.step))),
                                                  ("workers", .int(machine.members.count)), ("host", .string(member.host))])
            case let .lost(member, reason):
                // Its answers of this step are void: the machine has asked its chunks of others.
                if let added = reducer.void(memberID: member.id, recycle: { spareMessages.append($0) }) {
                    observer?.event("answer_voided", [("worker", .int(Int(member.id))), ("step", .int(Int(machine.step))),
                                                      ("added_to_total", .bool(added))])
                }
                forgetSharedMemory(of: member.id)
                if reason == .left {
                    logger.info("worker \(member.id) (\(member.host)) left at step \(machine.step)")
                } else {
                    logger.warning("worker \(member.id) (\(member.host)) lost at step \(machine.step): \(reason)")
                }
                observer?.event("worker_lost", [("worker", .int(Int(member.id))), ("step", .int(Int(machine.step))),
                                                ("workers", .int(machine.members.count)), ("reason", .string(reason.kind)),
                                                ("detail", .string(reason.description)), ("host", .string(member.host)),
                                                ("cleanly", .bool(reason == .left))])
            case .keepSnapshot(let step):
                keepSnapshot(step: step)
            case .dropSnapshot(let step):
                snapshots[step] = nil
            case let .verificationFailed(member, step):
                logger.error("worker \(member.id) (\(member.host)) answered step \(step) with a gradient that differs from the coordinator's recomputation of the same chunks: expelled, and its \(member.key == nil ? "host" : "key") refused for the rest of the run")
                observer?.event("verification_failed", [("worker", .int(Int(member.id))), ("step", .int(Int(step))), ("host", .string(member.host)),
                                                        ("key", member.key.map(JSONValue.string) ?? .encoded("null"))])
            case .rollBack(let step):
                rollBack(toStep: step)
            case .dropped(let reason):
                observer?.messageDropped(reason.kind)
                let logged = loggedDrops[reason.kind, default: 0]
                loggedDrops[reason.kind] = logged + 1
                if logged < 20 { logger.warning("dropped \(reason)") }
                else if logged == 20 { logger.warning("dropping more messages like that (\(reason.kind)) without logging each; --verbose logs each") }
                if logged >= 20 { logger.debug("dropped \(reason)") }
            case let .rebalanced(shards, speeds):
                let ids = shards.keys.sorted()
                let line = "shards follow the workers' speeds from step \(machine.step + 1): "
                    + ids.map { "worker \($0) \(counted(shards[$0]!, "shard")) (\(Int(speeds[$0] ?? 0)) samples/s)" }.joined(separator: ", ")
                let now = Self.now()
                if lastRebalanceLine.map({ now - $0 >= 5_000_000_000 }) ?? true {
                    logger.info("\(line)")
                    lastRebalanceLine = now
                } else {
                    logger.debug("\(line)")
                }
                observer?.event("rebalanced", [("step", .int(Int(machine.step))),
                                               ("shards", .object(ids.map { (String($0), .int(shards[$0]!)) })),
                                               ("samples_per_second", .object(ids.map { (String($0), .int(Int(speeds[$0] ?? 0))) }))])
            }
        }
    }

    /// True the first 20 times `kind` is asked: a flood of junk cannot flood the log.
    private func logOnce(_ kind: String) -> Bool {
        let logged = loggedDrops[kind, default: 0]
        loggedDrops[kind] = logged + 1
        return logged < 20
    }

    /// Ships the samples at `globals` to `member`, which appends them to its storage.
    private func ship(_ globals: [Int32], to member: CoordinatorStateMachine.Member) {
        let samples = train.subset(globals)
        do {
            try encoder.shard(runID: runID, features: samples.featureCount, classCount: config.model.classCount,
                              featureType: ShardFeatureType(rawValue: samples.featureType.rawValue)!, byteScale: samples.byteScale,
                              labels: samples.labels)
        } catch {
            logger.error("could not ship samples to worker \(member.id): \(error)")
            return
        }
        switch samples.featureType {
        case .uint8: send(to: member, bulk: samples.pixels)
        case .float32: send(to: member, bulk: samples.values)
        }
        if sharedMemory.doorbells[member.id] != nil { sharedMemory.samplesInFlight[member.id] = .shipped }
        logger.debug("worker \(member.id) (\(member.host)) receives \(counted(samples.count, "sample"))")
    }

    /// Sends the encoder's message to a member; a failure is the machine's to judge.
    func send<Bulk>(to member: CoordinatorStateMachine.Member, bulk: [Bulk] = [UInt8]()) {
        do {
            if try !sendEncoded(to: member.peer, bulk: bulk) { machine.sendFailed(to: member.id, .queueFull) }
        } catch let error as ZMQError where error.isHostUnreachable {
            machine.sendFailed(to: member.id, .unreachable)
        } catch {
            logger.error("could not send to worker \(member.id): \(error)")
            machine.sendFailed(to: member.id, .unreachable)
        }
    }

    /// Sends the message the encoder holds, with `bulk` as its last frame straight from its
    /// storage, without waiting; false when the peer's queue is full.
    func sendEncoded<Bulk>(to peer: CoordinatorStateMachine.Peer, bulk: [Bulk] = [UInt8]()) throws -> Bool {
        try peer.withUnsafeBytes { address in
            try bulk.withUnsafeBytes { bulk in
                try encoder.withFrames(bulk: bulk) { frames in
                    stepTimings.bytes += UInt64(frames.reduce(0) { $0 + $1.count })
                    return try socket.send([address] + frames, .dontWait)
                }
            }
        }
    }
}
