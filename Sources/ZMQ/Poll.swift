import CZMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Events a poll waits for or reports.
public struct PollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A message can be received without blocking.
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking.
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// One socket in a poll, what to wait for, and what was found.
public struct PollItem {
    public let socket: Socket
    public var events: PollEvents
    /// Set by `poll`: the events of `events` that are ready.
    public internal(set) var ready: PollEvents = []

    public init(_ socket: Socket, _ events: PollEvents = .readable) {
        self.socket = socket
        self.events = events
    }
}

/// Waits until at least one item is ready or the timeout passes, and sets each item's `ready`.
///
/// - Parameter timeoutMilliseconds: how long to wait; 0 returns at once, -1 waits forever.
/// - Returns: how many items are ready; 0 on timeout, and also when a signal
///   interrupted the wait (callers poll in a loop and check their stop flag there).
/// - Throws: `ZMQError`, e.g. `isTerminated` after the context was shut down.
@discardableResult
public func poll(_ items: inout [PollItem], timeoutMilliseconds: Int) throws -> Int {
    let ready = try withUnsafeTemporaryAllocation(of: zmq_pollitem_t.self, capacity: items.count) { raw in
        for (index, item) in items.enumerated() {
            raw.initializeElement(at: index, to: zmq_pollitem_t(
                socket: item.socket.handle, fd: 0, events: item.events.rawValue, revents: 0))
        }
        defer { _ = raw.deinitialize() }
        let result = zmq_poll(raw.baseAddress, Int32(items.count), timeoutMilliseconds)
        if result == -1 {
            let error = ZMQError.last("poll \(items.count) sockets")
            if error.isInterrupted { return Int32(0) }
            throw error
        }
        for index in items.indices {
            items[index].ready = PollEvents(rawValue: raw[index].revents).intersection(items[index].events)
        }
        return result
    }
    if ready == 0 {
        for index in items.indices { items[index].ready = [] }
    }
    return Int(ready)
}
