import Dataset
import Foundation
import Logging
import MLP
import Wire
import ZMQ

/// Receiving, deciding with the state machine, and sending.
extension Coordinator {
    /// Waits up to `timeoutMilliseconds` for messages, handles all that are waiting,
    /// keeps the heartbeats going, and declares lost the members silent past the deadline.
    func pump(timeoutMilliseconds: Int) throws {
        if try poll(&pollItems, timeoutMilliseconds: timeoutMilliseconds) > 0 {
            while true {
                let message = spareMessages.popLast() ?? Message(maxFrames: 1 + framesPerMessage)
                guard try socket.receive(into: message, .dontWait) else {
                    spareMessages.append(message)
                    break
                }
                if !handle(message) { spareMessages.append(message) }
            }
        }
        try settleClosedConnections()
        if let failure = workerFailure { throw failure }
        if Double(DispatchTime.now().uptimeNanoseconds - lastHeartbeatSent) / 1e9 >= CoordinatorOptions.heartbeatInterval {
            try sendHeartbeats()
        }
        // Members awaited by the step have the step's deadline; the rest must keep up their heartbeats.
        for member in machine.snapshot() where !machine.awaiting.contains(member.id) {
            let now = DispatchTime.now().uptimeNanoseconds
            let heard = min(lastHeard[member.id] ?? now, now)
            if Double(now - heard) / 1e9 > options.stepDeadline {
                try lose(member.id, reason: String(format: "silent for more than %.1f s", options.stepDeadline))
            }
        }
    }

    /// A heartbeat to each member the step still waits for; a closed connection shows in the send.
    func probeAwaitedMembers() throws {
        for member in machine.members where machine.awaiting.contains(member.id) {
            encoder.signal(.heartbeat, runID: runID, step: machine.step)
            do { try send(to: member.peer) } catch let error as ZMQError where error.isHostUnreachable {
                connectionGone(member)
            }
        }
    }

    /// A heartbeat to every member; also before and after the coordinator's long pauses (evaluation, checkpoints).
    func sendHeartbeats() throws {
        lastHeartbeatSent = DispatchTime.now().uptimeNanoseconds
        for member in machine.snapshot() {
            encoder.signal(.heartbeat, runID: runID, step: machine.step)
            do { try send(to: member.peer) } catch let error as ZMQError where error.isHostUnreachable {
                connectionGone(member)
            }
        }
    }

    /// Handles one message from the socket; returns true when it keeps the message (an accepted gradient).
    func handle(_ message: Message) -> Bool {
        guard message.count >= 1 else { return false }
        // A member's address is already stored; only a stranger's is copied out of the message.
        let known = machine.member(at: message[0])
        let peer = known?.peer ?? Array(message[0])
        let frames = message.dropFirst()
        stepBytes += UInt64(message.byteCount)
        guard !message.isTruncated, frames.count == framesPerMessage else {
            report(machine.receiveInvalid("a message of \(message.receivedFrames - 1) frames, the protocol has \(framesPerMessage)"), peer: peer)
            return false
        }
        let envelope: Envelope
        do {
            envelope = try decode(frames: frames, context: DecodeContext(receiver: .coordinator, runID: runID,
                                                                          parameterCount: parameters.count))
        } catch let error as WireError {
            if case .unsupportedVersion = error {
                sendRefusal(to: peer, .wrongVersion, "this coordinator speaks dptrain protocol version \(protocolVersion)")
            }
            if case .runMismatch(let otherRun, _) = error, known == nil {
                // Most likely a worker of the coordinator that ran here before this one: tell it
                // at once (once a second at most), so that it rejoins without waiting out its timeout.
                let now = DispatchTime.now().uptimeNanoseconds
                if now - (lastOtherRunNotice[peer] ?? 0) > 1_000_000_000 {
                    lastOtherRunNotice[peer] = now
                    // Under the worker's own run id, which is the only one its decoder takes.
                    sendRefusal(to: peer, .otherRun, "this coordinator runs run \(runID); say hello to join it", runID: otherRun)
                }
            }
            report(machine.receiveInvalid("\(error)"), peer: peer)
            return false
        } catch {
            report(machine.receiveInvalid("\(error)"), peer: peer)
            return false
        }

        // Only a well-formed message of this run counts as a sign of life.
        if let member = known { lastHeard[member.id] = DispatchTime.now().uptimeNanoseconds }
        switch envelope.body {
        case .failure(let reason):
            if let member = known {
                workerFailure = TrainingError.workerFailed(worker: member.id, host: member.host, reason: reason)
            } else {
                report(machine.receiveInvalid("a failure report from a peer that is not a worker of this run"), peer: peer)
            }
        case .hello(let hello):
            report(machine.receiveHello(hello, from: peer, address: message.property("Peer-Address", frame: 1),
                                        key: message.property("User-Id", frame: 1)), peer: peer)
        case .gradient(let view):
            var decision = machine.receiveGradient(step: envelope.step, from: peer)
            if case .accept(let member) = decision, let expected = expectedRows[member.id], Int(view.sampleCount) != expected {
                // Its samples stay in flight: the member is treated as not having answered.
                decision = machine.receiveInvalid("a gradient for \(view.sampleCount) samples from worker \(member.id), whose step had \(expected)")
                machine.expectAgain(member.id)
            }
            if case .accept(let member) = decision {
                gradients[member.id] = (message, view)
                firstGradientArrival = firstGradientArrival ?? DispatchTime.now().uptimeNanoseconds
                return true
            }
            report(decision, peer: peer)
        case .heartbeat:
            report(machine.receiveHeartbeat(from: peer), peer: peer)
        case .goodbye:
            let decision = machine.receiveGoodbye(from: peer)
            if case .leave(let member) = decision {
                do { try lose(member.id, reason: "left cleanly", cleanly: true) } catch { logger.error("\(error)") }
            }
            report(decision, peer: peer)
        default:
            // decode() has already refused every type that does not travel to a coordinator.
            break
        }
        return false
    }

    /// Carries out a decision that needs no gradient.
    func report(_ decision: CoordinatorStateMachine.Decision, peer: CoordinatorStateMachine.Peer) {
        switch decision {
        case .admit(let member):
            lastHeard[member.id] = DispatchTime.now().uptimeNanoseconds
            logger.info("worker \(member.id) joined from \(member.host)")
            let configuration = RunConfiguration(training: config, featureCount: train.featureCount, classCount: train.classCount,
                                                 coordinatorSilenceSeconds: max(Worker.defaultSilenceTimeout, options.stepDeadline))
            do {
                try encoder.welcome(Welcome(workerID: member.id, configuration: configuration.encoded(),
                                            parameterCount: parameters.count), runID: runID)
                try send(to: member.peer)
            } catch {
                logger.error("could not welcome worker \(member.id): \(error)")
            }
        case .refuse(let peer, let reason, let text):
            let logged = loggedDrops["refusal", default: 0]
            loggedDrops["refusal"] = logged + 1
            if logged < 20 { logger.info("refused a worker: \(text)") }
            sendRefusal(to: peer, reason, text)
        case .leave:
            break   // handled where the goodbye arrives: losing the member moves its samples
        case .drop(let reason):
            let kind = CoordinatorStateMachine.kind(of: reason)
            let logged = loggedDrops[kind, default: 0]
            loggedDrops[kind] = logged + 1
            if logged < 20 { logger.warning("dropped \(reason)") }
            else if logged == 20 { logger.warning("dropping more messages like that without logging each") }
        case .accept, .ignore:
            break
        }
    }

    func sendRefusal(to peer: CoordinatorStateMachine.Peer, _ reason: RefuseReason, _ text: String, runID: UInt64? = nil) {
        do {
            try encoder.refuse(Refusal(reason: reason, text: text), runID: runID ?? self.runID)
            try send(to: peer)
        } catch {
            logger.debug("could not send a refusal: \(error)")
        }
    }

    // MARK: Sending

    func send(to peer: CoordinatorStateMachine.Peer) throws {
        try send(to: peer, bulk: [UInt8]())
    }

    /// Sends the message the encoder holds, with `bulk` as its last frame straight from its storage.
    func send<Bulk>(to peer: CoordinatorStateMachine.Peer, bulk: [Bulk]) throws {
        try peer.withUnsafeBytes { address in
            try bulk.withUnsafeBytes { bulk in
                try encoder.withFrames(bulk: bulk) { frames in
                    stepBytes += UInt64(frames.reduce(0) { $0 + $1.count })
                    _ = try socket.send([address] + frames)
                }
            }
        }
    }
}
