import Wire

/// The coordinator's bookkeeping, with no sockets and no clock: who is in the
/// run, which step is under way, and whose gradients that step still waits
/// for. The driver (`Coordinator`) feeds it what arrives and carries out what
/// it decides; tests feed it messages directly.
public struct CoordinatorStateMachine {
    /// A connection's address on the coordinator's socket (a ROUTER routing id).
    public typealias Peer = [UInt8]

    public struct Member: Equatable, Sendable {
        public let id: UInt32
        public let peer: Peer
        /// Where the worker says it runs, for the logs.
        public let host: String
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
        /// Nothing to do (a heartbeat, say).
        case ignore
        /// Drop the message, count it and log the reason.
        case drop(String)
    }

    public private(set) var phase = Phase.gathering
    /// In id order: the order gradients are summed in.
    public private(set) var members: [Member] = []
    public let expectedWorkers: Int
    /// The step under way (1 for the first), 0 before training.
    public private(set) var step: UInt64 = 0
    /// Members whose gradient the current step still needs.
    public private(set) var awaiting: Set<UInt32> = []
    /// Messages dropped so far, by reason.
    public private(set) var dropped: [String: Int] = [:]
    private var nextID: UInt32 = 1

    public init(expectedWorkers: Int) {
        precondition(expectedWorkers > 0)
        self.expectedWorkers = expectedWorkers
    }

    public var isReadyToStart: Bool { phase == .gathering && members.count >= expectedWorkers }
    public var isStepComplete: Bool { phase == .training && awaiting.isEmpty }
    public var droppedCount: Int { dropped.values.reduce(0, +) }

    public func member(at peer: Peer) -> Member? { members.first { $0.peer == peer } }

    public mutating func receiveHello(_ hello: Hello, from peer: Peer) -> Decision {
        if let existing = member(at: peer) {
            return drop("a second hello from worker \(existing.id) (\(existing.host))")
        }
        if hello.previousWorkerID != 0, members.contains(where: { $0.id == hello.previousWorkerID }) {
            count("hello with a worker id in use")
            return .refuse(peer, .duplicateID, "worker id \(hello.previousWorkerID) is in use by a live worker")
        }
        guard phase == .gathering, members.count < expectedWorkers else {
            count("hello after the run filled")
            return .refuse(peer, .runFull, "this run has its \(expectedWorkers) workers and does not take more")
        }
        let member = Member(id: nextID, peer: peer, host: hello.host)
        nextID += 1
        members.append(member)
        return .admit(member)
    }

    public mutating func receiveGradient(step gradientStep: UInt64, from peer: Peer) -> Decision {
        guard let member = member(at: peer) else { return drop("a gradient from a peer that is not a worker of this run") }
        guard phase == .training else { return drop("a gradient from worker \(member.id) before training started") }
        if gradientStep < step { return drop("a stale gradient for step \(gradientStep) from worker \(member.id) at step \(step)") }
        if gradientStep > step { return drop("a gradient for future step \(gradientStep) from worker \(member.id) at step \(step)") }
        guard awaiting.remove(member.id) != nil else {
            return drop("a second gradient for step \(step) from worker \(member.id)")
        }
        return .accept(member)
    }

    public mutating func receiveHeartbeat(from peer: Peer) -> Decision {
        member(at: peer) == nil ? drop("a heartbeat from a peer that is not a worker of this run") : .ignore
    }

    /// A message that failed to decode, or broke the protocol's shape.
    public mutating func receiveInvalid(_ reason: String) -> Decision { drop(reason) }

    public mutating func startTraining() {
        precondition(isReadyToStart)
        phase = .training
    }

    /// Opens `step`, waiting for a gradient from each of `ids`.
    public mutating func beginStep(_ step: UInt64, expecting ids: [UInt32]) {
        precondition(phase == .training && step > self.step && !ids.isEmpty)
        self.step = step
        awaiting = Set(ids)
    }

    public mutating func finish() { phase = .finished }

    private mutating func drop(_ reason: String) -> Decision {
        count(reason)
        return .drop(reason)
    }

    private mutating func count(_ reason: String) {
        // Counted by kind: the reason up to its first digit, so "step 12" and "step 13" are one kind.
        let kind = String(reason.prefix { !$0.isNumber }).trimmingCharacters(in: .whitespaces)
        dropped[kind, default: 0] += 1
    }
}

import Foundation
