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
    /// A descriptor's hang-up or error (reported whether asked for or not).
    public static let error = PollEvents(rawValue: Int16(ZMQ_POLLERR))
}

/// One socket or plain file descriptor (a pipe) in a poll, what to wait for, and what was found.
public struct PollItem {
    public let socket: Socket?
    /// A descriptor polled as poll(2) would, when `socket` is nil.
    public let descriptor: Int32
    public var events: PollEvents
    /// Set by `poll`: the events of `events` that are ready, and `.error` for a descriptor
    /// whose other end hung up or failed.
    public internal(set) var ready: PollEvents = []

    public init(_ socket: Socket, _ events: PollEvents = .readable) {
        self.socket = socket
        descriptor = -1
        self.events = events
    }

    public init(descriptor: Int32, _ events: PollEvents = .readable) {
        socket = nil
        self.descriptor = descriptor
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
        // By index: an iterator over `items` would hold a second reference to its buffer, and the
        // writes of `ready` below would then copy the array on every poll.
        for index in items.indices {
            raw.initializeElement(at: index, to: zmq_pollitem_t(
                socket: items[index].socket?.handle, fd: items[index].descriptor, events: items[index].events.rawValue, revents: 0))
        }
        defer { _ = raw.deinitialize() }
        let result = zmq_poll(raw.baseAddress, Int32(items.count), timeoutMilliseconds)
        if result == -1 {
            let error = ZMQError.last("poll \(items.count) sockets and descriptors")
            if error.isInterrupted { return Int32(0) }
            throw error
        }
        for index in items.indices {
            items[index].ready = PollEvents(rawValue: raw[index].revents).intersection(items[index].events.union(.error))
        }
        return result
    }
    if ready == 0 {
        for index in items.indices { items[index].ready = [] }
    }
    return Int(ready)
}
