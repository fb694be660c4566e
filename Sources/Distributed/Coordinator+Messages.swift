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
    /// Waits up to `timeoutMilliseconds` for messages on the socket and the members' doorbells,
    /// handles all that are waiting, then lets the machine act on the time (heartbeats, probes,
    /// deadlines, silence).
    func pump(timeoutMilliseconds: Int) throws {
        if sharedMemory.doorbellsChanged { makePollItems() }
        if try poll(&pollItems, timeoutMilliseconds: timeoutMilliseconds) > 0 {
            for index in pollItems.indices.dropFirst() where !pollItems[index].ready.isEmpty {
                try ringDoorbell(of: pollMembers[index - 1])
            }
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
        heartbeatServers(now: Self.now())
        try checkServers(now: Self.now())
    }

    /// The socket, then each member's answer pipe; made anew only when a doorbell came or went,
    /// so that a step's poll allocates nothing.
    private func makePollItems() {
        sharedMemory.doorbellsChanged = false
        pollMembers = sharedMemory.doorbells.keys.sorted()
        pollItems = [PollItem(socket)] + pollMembers.map { PollItem(descriptor: sharedMemory.doorbells[$0]!.readDescriptor) }
    }

    /// Handles every whole message waiting on member `id`'s answer pipe as if it had come from
    /// the member over the socket. End of file (the worker is gone: killed, say) or a stream
    /// out of step is the loss of the member's connection, as a send to a closed one is.
    private func ringDoorbell(of id: UInt32) throws {
        guard let doorbell = sharedMemory.doorbells[id] else { return }
        guard let member = machine.members.first(where: { $0.id == id }) ?? machine.joining.first(where: { $0.id == id }) else {
            // No member: nothing may read its pipe, nor leave it ringing in the poll.
            sharedMemory.doorbells[id] = nil
            sharedMemory.doorbellsChanged = true
            return
        }
        // What came before the end of file is handled first: it was sent.
        var open = doorbell.receive() == .open
        do {
            // A handled message may lose the member (a failure it reported, say): its pipe is closed then.
            while sharedMemory.doorbells[id] === doorbell, try doorbell.reader.next({ try handle(frames: $0, from: member, message: nil) }) != nil {}
        } catch let error as PipeFramingError {
            logger.warning("worker \(id)'s doorbell: \(error)")
            open = false
        }
        if !open, sharedMemory.doorbells[id] === doorbell {
            // The slot stays until the machine loses the member: an answer already taken points into it.
            sharedMemory.doorbells[id] = nil
            sharedMemory.doorbellsChanged = true
            machine.sendFailed(to: id, .unreachable)
        }
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
        if let server = roster?.server(atAddress: message[0]) {
            // A parameter server: its own messages, never the machine's.
            guard !message.isTruncated, message.count - 1 == framesPerMessage else { return false }
            try handleFromServer(message, index: server)
            return false
        }
        let known = machine.member(at: message[0])
        // What the member wrote on its doorbell before this message left is read first: the
        // machine takes a member's answers in the order it sent them.
        if let known, sharedMemory.doorbells[known.id] != nil { try ringDoorbell(of: known.id) }
        stepTimings.bytes += UInt64(message.byteCount)
        stepTimings.bytesReceived += UInt64(message.byteCount)
        guard !message.isTruncated, message.count - 1 == framesPerMessage else {
            perform(machine.receiveMisshapen(frames: message.receivedFrames - 1))
            return false
        }
        return try message.withFrames(from: 1) { try handle(frames: $0, from: known, stranger: known == nil ? Array(message[0]) : nil, message: message) }
    }

    /// Handles a message from parameter server `index` (its hello again, its state, a heartbeat, its failure).
    private func handleFromServer(_ message: Message, index: Int) throws {
        let peer = roster!.server(index: index)!.peer
        let envelope: Envelope
        do {
            envelope = try message.withFrames(from: 1) { try decode(frames: $0, context: DecodeContext(receiver: .coordinator, runID: runID)) }
        } catch {
            logger.warning("dropped a message from parameter server \(index + 1): \(error)")
            return
        }
        roster!.heard(from: peer, now: Self.now())
        switch envelope.body {
        case .serverHello(let hello):
            receiveServerHello(hello, from: peer, now: Self.now())
        case .rangeState(let state):
            receiveRangeState(state, from: peer, step: envelope.step)
        case .failure(let reason):
            throw ParameterServerFailure.failed(server: index + 1, reason: reason)
        default:
            break
        }
    }

    /// Handles one message from `known`'s doorbell, or from the socket (`message`, whose
    /// routing id is `stranger` when no member has it): the machine cannot tell which. Returns
    /// true when it keeps `message` (an accepted gradient from the socket).
    private func handle<Frames: Collection>(frames: Frames, from known: CoordinatorStateMachine.Member?, stranger: [UInt8]? = nil,
                                            message: Message?) throws -> Bool where Frames.Element == UnsafeRawBufferPointer {
        let peer = known?.peer ?? stranger ?? []
        let now = Self.now()
        let envelope: Envelope
        let slot = sharedGradient(of: known)
        do {
            var context = DecodeContext(receiver: .coordinator, runID: runID, parameterCount: stepParameterCount, precision: options.wirePrecision)
            // A gradient in shared memory is read only when its slot holds that step whole: the
            // worker publishes after writing, so a worker that died mid-write is never read.
            context.sharedBulk = slot
            envelope = try decode(frames: frames, context: context)
        } catch let error as WireError {
            perform(machine.receiveInvalid(error, from: peer, now: now))
            return false
        }

        switch envelope.body {
        case .serverHello(let hello):
            guard message != nil else { break }
            receiveServerHello(hello, from: peer, now: now)
        case .hello(let hello):
            // A hello names its sender's connection (address, key): only the socket's count.
            guard let message else { break }
            // A worker's welcome names every parameter server: none is welcomed before they are all here.
            if let roster, !roster.isComplete {
                perform([.refuse(peer, .tryLater, "waiting for \(roster.expected - roster.servers.count) more parameter server(s)", answeringRun: nil)])
                break
            }
            perform(machine.receiveHello(hello, from: peer, address: peerAddress(message),
                                         key: message.property("User-Id", frame: 1), now: now))
        case .gradient(let view):
            let figures = AnswerFigures(sampleCount: Int(view.sampleCount), lossSum: view.lossSum, correct: Int(view.correct), valueBytes: view.valueBytes,
                                        largestMagnitude: FixedPointSum.magnitudeBound(view.sums, width: view.valueBytes))
            switch machine.receiveGradient(step: envelope.step, figures, from: peer, now: now, computeNanoseconds: view.computeNanoseconds) {
            case .accept(let member, let request):
                // From a doorbell the bulk is empty (PipeReader sees to it): the view's sums are in the slot.
                reducer.accept((member, request, message, view), expectedAnswers: machine.stepRequests.count)
                samplesArrived(at: member.id, request: request)
                // Its first gradient there shows the worker has mapped its slot: nothing else may open or write it now.
                slot?.handOver()
                if slot != nil, view.sums.baseAddress == UnsafeRawPointer(slot!.data.baseAddress) {
                    stepTimings.bytes += UInt64(view.sums.count)
                    stepTimings.bytesReceived += UInt64(view.sums.count)
                }
                firstGradientArrival = firstGradientArrival ?? now
                return message != nil
            case .drop(let reason):
                perform([.dropped(reason)])
            case let .reject(reason, actions):
                perform([.dropped(reason)] + actions)
            }
        case .heartbeat:
            perform(machine.receiveHeartbeat(from: peer, now: now))
        case .goodbye:
            perform(machine.receiveGoodbye(from: peer, now: now))
        case .failure(let reason):
            // The member's word is checked against the coordinator's own computation of its chunks;
            // with parameter servers the coordinator holds no weights of the step to check it on, and believes it.
            if roster != nil, known != nil {
                throw TrainingError.lossNotFinite(epoch: machine.course.currentEpoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
            }
            if let member = known, let divergence = ownDivergence(onChunksOf: member) { throw divergence }
            perform(machine.receiveFailure(reason, from: peer, now: now))
        default:
            // decode() has already refused every type that does not travel to a coordinator.
            break
        }
        return false
    }
}
