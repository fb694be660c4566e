import Foundation
import Wire

/// The coordinator's bookkeeping, with no sockets and no clock: who is in the
/// run, who is joining, which step is under way, and whose gradients that step
/// still waits for. The driver (`Coordinator`) feeds it what arrives and what
/// its clock says, and carries out what it decides; tests feed it directly.
public struct CoordinatorStateMachine {
    /// A connection's address on the coordinator's socket (a ROUTER routing id).
    public typealias Peer = [UInt8]

    public struct Member: Equatable, Sendable {
        public let id: UInt32
        public let peer: Peer
        /// Where the worker says it runs, for the logs.
        public let host: String
        /// The CURVE public key (Z85) it connected with; nil in a run without keys.
        public var key: String? = nil
    }

    public enum Phase: Equatable, Sendable {
        /// Waiting for the workers the run starts with.
        case gathering
        case training
        case finished
    }

    /// What the driver should do with a message.
    public enum Decision: Equatable {
        /// Send this new member its welcome.
        case admit(Member)
        /// Send this peer a refusal.
        case refuse(Peer, RefuseReason, String)
        /// Keep this gradient: it is the one the current step waits for from this member.
        case accept(Member)
        /// This member said goodbye: it leaves now, and its samples go to the others.
        case leave(Member)
        /// Nothing to do (a heartbeat, say).
        case ignore
        /// Drop the message, count it and log the reason.
        case drop(String)
    }

    public private(set) var phase = Phase.gathering
    /// Members taking part in steps, in id order: the order gradients are summed in.
    public private(set) var members: [Member] = []
    /// Members welcomed since the last step boundary; they take part from the next.
    public private(set) var joining: [Member] = []
    /// Workers the run starts with.
    public let expectedWorkers: Int
    /// The most workers at once.
    public let maxWorkers: Int
    /// The step under way (1 for the first), 0 before training.
    public private(set) var step: UInt64 = 0
    /// Members whose gradient the current step still needs.
    public private(set) var awaiting: Set<UInt32> = []
    /// Messages dropped so far, by kind.
    public private(set) var dropped: [String: Int] = [:]
    public private(set) var nextID: UInt32 = 1
    /// Ids of a resumed run's workers, kept for them until they come back.
    public private(set) var reservedIDs: [UInt32] = []
    /// The key each id was first given to, for the whole run: no other key may take that id.
    public private(set) var keysByID: [UInt32: String] = [:]

    public init(expectedWorkers: Int, maxWorkers: Int = .max) {
        precondition(expectedWorkers > 0 && maxWorkers >= expectedWorkers)
        self.expectedWorkers = expectedWorkers
        self.maxWorkers = maxWorkers
    }

    /// A resumed run: its step, and the ids its workers had.
    public init(expectedWorkers: Int, maxWorkers: Int = .max, resumingAt step: UInt64, memberIDs: [UInt32], nextID: UInt32) {
        self.init(expectedWorkers: expectedWorkers, maxWorkers: maxWorkers)
        self.step = step
        reservedIDs = memberIDs.sorted()
        self.nextID = max(nextID, (memberIDs.max() ?? 0) &+ 1, 1)
    }

    public var allMembers: [Member] { members + joining }

    /// Every member, taking part or joining, as they are now: safe to iterate while
    /// members are lost, and with no array to build (the step loop allocates nothing).
    public func snapshot() -> MemberSnapshot {
        MemberSnapshot(taking: members.makeIterator(), joining: joining.makeIterator())
    }

    public struct MemberSnapshot: Sequence, IteratorProtocol {
        var taking: IndexingIterator<[Member]>
        var joining: IndexingIterator<[Member]>
        public mutating func next() -> Member? { taking.next() ?? joining.next() }
    }
    public var isReadyToStart: Bool { phase == .gathering && members.count >= expectedWorkers }
    public var isStepComplete: Bool { phase == .training && awaiting.isEmpty }
    public var droppedCount: Int { dropped.values.reduce(0, +) }

    /// The member at this connection, found without copying the address.
    public func member<Bytes: Collection<UInt8>>(at peer: Bytes) -> Member? {
        members.first { $0.peer.elementsEqual(peer) } ?? joining.first { $0.peer.elementsEqual(peer) }
    }

    /// `address` is where the connection comes from, as the transport tells it (an IP address over tcp);
    /// `key` the CURVE public key the connection authenticated with, nil without keys.
    public mutating func receiveHello(_ hello: Hello, from peer: Peer, address: String? = nil, key: String? = nil) -> Decision {
        if let existing = member(at: peer) {
            return drop("a second hello from worker \(existing.id) (\(existing.host))")
        }
        if hello.previousWorkerID != 0, let owner = keysByID[hello.previousWorkerID], owner != key {
            // One admitted worker must not take another's place (and its samples) by naming its id.
            count("hello under a worker id bound to another key")
            return .refuse(peer, .notAuthorised, "worker id \(hello.previousWorkerID) belongs to another key; a worker keeps its id only with the key it joined with")
        }
        if hello.previousWorkerID != 0, allMembers.contains(where: { $0.id == hello.previousWorkerID }) {
            count("hello with a worker id in use")
            return .refuse(peer, .duplicateID, "worker id \(hello.previousWorkerID) is in use by a live worker")
        }
        guard allMembers.count < maxWorkers, phase != .finished else {
            count("hello after the run filled")
            return .refuse(peer, .runFull, "this run has its \(maxWorkers) workers and does not take more")
        }
        let id: UInt32
        if let reserved = reservedIDs.firstIndex(of: hello.previousWorkerID) {
            id = reservedIDs.remove(at: reserved)        // back in its own place
        } else if phase == .gathering, !reservedIDs.isEmpty {
            id = reservedIDs.removeFirst()              // a newcomer fills a place kept for a worker that has not come back
        } else {
            id = nextID
            nextID += 1
        }
        let host = address.map { "\(hello.host) at \($0)" } ?? hello.host
        let member = Member(id: id, peer: peer, host: host, key: key)
        if let key { keysByID[id] = key }
        // Beyond the workers the run starts with, a worker joins at the first step boundary.
        if phase == .gathering && members.count < expectedWorkers {
            members.append(member)
            members.sort { $0.id < $1.id }
        } else {
            joining.append(member)
        }
        return .admit(member)
    }

    public mutating func receiveGradient(step gradientStep: UInt64, from peer: Peer) -> Decision {
        guard let member = member(at: peer) else { return drop("a gradient from a peer that is not a worker of this run") }
        guard phase == .training else { return drop("a gradient from worker \(member.id) before training started") }
        if gradientStep < step { return drop("a stale gradient for step \(gradientStep) from worker \(member.id) at step \(step)") }
        if gradientStep > step { return drop("a gradient for future step \(gradientStep) from worker \(member.id) at step \(step)") }
        guard awaiting.remove(member.id) != nil else {
            return drop("a gradient for step \(step) from worker \(member.id), which this step does not wait for")
        }
        return .accept(member)
    }

    public mutating func receiveGoodbye(from peer: Peer) -> Decision {
        guard let member = member(at: peer) else { return drop("a goodbye from a peer that is not a worker of this run") }
        return .leave(member)
    }

    public mutating func receiveHeartbeat(from peer: Peer) -> Decision {
        member(at: peer) == nil ? drop("a heartbeat from a peer that is not a worker of this run") : .ignore
    }

    /// The current step waits for this member's gradient again (the one it sent was refused).
    public mutating func expectAgain(_ id: UInt32) {
        if members.contains(where: { $0.id == id }) { awaiting.insert(id) }
    }

    /// A message that failed to decode, or broke the protocol's shape.
    public mutating func receiveInvalid(_ reason: String) -> Decision { drop(reason) }

    public mutating func startTraining() {
        precondition(isReadyToStart)
        phase = .training
        reservedIDs = []
    }

    /// At a step boundary the joining members come in; returns them, so the driver can give them samples.
    public mutating func stepBoundary() -> [Member] {
        let joined = joining
        members = (members + joined).sorted { $0.id < $1.id }
        joining = []
        return joined
    }

    /// Opens `step`, waiting for a gradient from each of `ids`.
    public mutating func beginStep<IDs: Sequence<UInt32>>(_ step: UInt64, expecting ids: IDs) {
        precondition(phase == .training && step > self.step)
        self.step = step
        awaiting.removeAll(keepingCapacity: true)
        awaiting.formUnion(ids)
    }

    /// The member is gone (its deadline passed, or it could not be reached): it stops counting at once.
    @discardableResult
    public mutating func lose(_ id: UInt32) -> Member? {
        awaiting.remove(id)
        if let index = joining.firstIndex(where: { $0.id == id }) { return joining.remove(at: index) }
        guard let index = members.firstIndex(where: { $0.id == id }) else { return nil }
        return members.remove(at: index)
    }

    public mutating func finish() { phase = .finished }

    private mutating func drop(_ reason: String) -> Decision {
        count(reason)
        return .drop(reason)
    }

    private mutating func count(_ reason: String) {
        dropped[Self.kind(of: reason), default: 0] += 1
    }

    /// A drop's kind: its reason up to the first digit, so that "step 12" and "step 13" are one kind.
    public static func kind(of reason: String) -> String {
        String(reason.prefix { !$0.isNumber }).trimmingCharacters(in: .whitespaces)
    }
}
