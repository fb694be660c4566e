import CMalloc
import CZMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libzmq context: the I/O threads and the sockets' shared state.
/// Terminated in deinit, which libzmq makes wait until every socket of the
/// context is closed; each `Socket` keeps its context alive, so that order holds.
/// libzmq contexts are thread-safe, so one may be shared across threads.
public final class Context: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// - Parameter ioThreads: libzmq's background I/O threads. One moves about
    ///   a gigabyte a second; a coordinator that fans out to many workers may want more.
    public init(ioThreads: Int32 = 1) throws {
        _ = Self.messageBuffersInHeap
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
        if ioThreads != 1 {
            try check(zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads), "set io threads \(ioThreads)")
        }
    }

    /// libzmq allocates every received message larger than a few kilobytes with malloc, and
    /// CURVE two more buffers for each message it encrypts or decrypts. glibc serves allocations
    /// over 128 KB from a fresh mmap, whose every page faults in zeroed on first touch: for a
    /// 407 KB weight message that was half of what CURVE costs (benchmarks/curve-cost.sh; the
    /// figures are in docs/performance.md, "What CURVE costs"). Up to
    /// 64 MB now come from the heap, where a freed buffer is reused by the next message, and
    /// 256 MB of freed heap stay with the process. Set once per process, by its first context.
    private static let messageBuffersInHeap: Bool = dptrain_keep_allocations_in_heap(64 << 20, 256 << 20) == 1

    /// Makes every blocking call on this context's sockets, in any thread, return ETERM.
    /// The sockets must still be released for the context to go away.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // zmq_ctx_term may be interrupted by a signal; it must be called again then.
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }
}
