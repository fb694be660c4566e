import Dataset
import Foundation
import Logging
import MLP
import Roles
import Training
import Wire
import ZMQ

/// Receiving: decode each message and feed it to the state machine; then the clock.
extension Coordinator {
    /// Waits up to `timeoutMilliseconds` for messages, handles all that are waiting, then
    /// lets the machine act on the time (heartbeats, probes, deadlines, silence).
    func pump(timeoutMilliseconds: Int) throws {
        if try poll(&pollItems, timeoutMilliseconds: timeoutMilliseconds) > 0 {
            while true {
                let message = spareMessages.popLast() ?? Message(maxFrames: 1 + framesPerMessage)
                guard try socket.receive(into: message, .dontWait) else {
                    spareMessages.append(message)
                    break
                }
                if try !handle(message) { spareMessages.append(message) }
            }
        }
        perform(machine.tick(now: Self.now()))
    }

    /// Where a tcp connection comes from; nothing for ipc, whose "address" libzmq makes up
    /// from the peer's credentials (the hello's host already names the process).
    private func peerAddress(_ message: Message) -> String? {
        endpoint.hasPrefix("tcp://") ? message.property("Peer-Address", frame: 1) : nil
    }

    /// Handles one message from the socket; returns true when it keeps the message (an accepted gradient).
    private func handle(_ message: Message) throws -> Bool {
        guard message.count >= 1 else { return false }
        // A member's address is already stored; only a stranger's is copied out of the message.
        let known = machine.member(at: message[0])
        let peer = known?.peer ?? Array(message[0])
        let now = Self.now()
        stepTimings.bytes += UInt64(message.byteCount)
        guard !message.isTruncated, message.count - 1 == framesPerMessage else {
            perform(machine.receiveMisshapen(frames: message.receivedFrames - 1))
            return false
        }
        let envelope: Envelope
        let slot = sharedGradient(of: known)
        do {
            var context = DecodeContext(receiver: .coordinator, runID: runID, parameterCount: parameters.count, precision: options.wirePrecision)
            // A gradient in shared memory is read only when its slot holds that step whole: the
            // worker publishes after writing, so a worker that died mid-write is never read.
            context.sharedBulk = slot
            envelope = try decode(frames: message.dropFirst(), context: context)
        } catch let error as WireError {
            perform(machine.receiveInvalid(error, from: peer, now: now))
            return false
        }

        switch envelope.body {
        case .hello(let hello):
            sharedMemory.offer = hello.sharedMemory.map { (peer, $0) }
            perform(machine.receiveHello(hello, from: peer, address: peerAddress(message),
                                         key: message.property("User-Id", frame: 1), now: now))
            sharedMemory.offer = nil
        case .gradient(let view):
            switch machine.receiveGradient(step: envelope.step, sampleCount: Int(view.sampleCount),
                                           largestMagnitude: FixedPointSum.largestMagnitude(view.sums), from: peer, now: now) {
            case .accept(let member, _):
                gradients.append((member, message, view))
                // Its first gradient there shows the worker has mapped its slot: nothing else may open it now.
                slot?.closeDescriptor()
                if slot != nil, message[3].isEmpty { stepTimings.bytes += UInt64(gradientBytes) }
                firstGradientArrival = firstGradientArrival ?? now
                return true
            case .drop(let reason):
                perform([.dropped(reason)])
            }
        case .heartbeat:
            perform(machine.receiveHeartbeat(from: peer, now: now))
        case .goodbye:
            perform(machine.receiveGoodbye(from: peer, now: now))
        case .failure(let reason):
            // The member's word is checked against the coordinator's own computation of its chunks.
            if let member = known, let divergence = ownDivergence(onChunksOf: member) { throw divergence }
            perform(machine.receiveFailure(reason, from: peer, now: now))
        default:
            // decode() has already refused every type that does not travel to a coordinator.
            break
        }
        return false
    }
}
