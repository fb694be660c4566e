import CSharedMemory
import Foundation
import Wire

/// One end of a same-host member's doorbell (Protocol.swift): a pipe this process reads its
/// peer's small messages from, and one it writes its own into, so that a step and its
/// gradient-ready answer wake the waiting thread at once instead of passing through libzmq's
/// I/O threads. Only messages whose bulk is in shared memory, and that fit in one atomic
/// write, travel here; everything else keeps the socket.
final class Doorbell {
    /// What became of a message handed to `send`.
    enum Sent {
        case sent
        /// Larger than one atomic write: send it over the socket.
        case tooLarge
        /// The pipe is full: the reader has stopped reading.
        case full
        /// The reader is gone (EPIPE), or the pipe failed.
        case broken
    }

    /// Where this end reads and writes; -1 once closed.
    private(set) var readDescriptor: Int32
    private var writeDescriptor: Int32
    /// The coordinator's copies of the worker's ends, kept open until the worker has opened
    /// them through /proc; -1 otherwise.
    private(set) var peerEnds: (read: Int32, write: Int32)
    let reader = PipeReader()
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: PipeFraming.messageBytes, alignment: 16)
    /// Set when a message has come from the peer: it has opened both its ends.
    private(set) var peerHasOpened = false

    private init(read: Int32, write: Int32, peerEnds: (read: Int32, write: Int32)) {
        readDescriptor = read
        writeDescriptor = write
        self.peerEnds = peerEnds
    }

    deinit {
        close()
        scratch.deallocate()
    }

    /// The coordinator's end of a new doorbell; the worker's ends stay open in `peerEnds` for it to open.
    static func makeForCoordinator() throws -> Doorbell {
        var step: [Int32] = [-1, -1], answer: [Int32] = [-1, -1]
        guard dptrain_pipe(&step) == 0 else { throw SharedMemoryError(.cannotCreate, "could not create a doorbell pipe: \(String(cString: strerror(errno)))") }
        guard dptrain_pipe(&answer) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(step[0]); Glibc.close(step[1])
            throw SharedMemoryError(.cannotCreate, "could not create a doorbell pipe: \(reason)")
        }
        return Doorbell(read: answer[0], write: step[1], peerEnds: (step[0], answer[1]))
    }

    /// The worker's end: the coordinator's (process `pid`'s) step pipe read end and answer pipe
    /// write end, opened through /proc/PID/fd/FD.
    static func openForWorker(pid: Int32, stepPipe: Int32, answerPipe: Int32) throws -> Doorbell {
        let read = dptrain_pipe_open(pid, stepPipe, 0)
        guard read >= 0 else { throw SharedMemoryError(.cannotOpen, "could not open the coordinator's step pipe (/proc/\(pid)/fd/\(stepPipe)): \(String(cString: strerror(errno)))") }
        let write = dptrain_pipe_open(pid, answerPipe, 1)
        guard write >= 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(read)
            throw SharedMemoryError(.cannotOpen, "could not open the coordinator's answer pipe (/proc/\(pid)/fd/\(answerPipe)): \(reason)")
        }
        return Doorbell(read: read, write: write, peerEnds: (-1, -1))
    }

    /// Closes every descriptor: the peer sees end of file, or EPIPE on its next write.
    func close() {
        closePeerEnds()
        for descriptor in [readDescriptor, writeDescriptor] where descriptor >= 0 { Glibc.close(descriptor) }
        readDescriptor = -1
        writeDescriptor = -1
    }

    /// Closes the coordinator's copies of the worker's ends: once the worker holds its own,
    /// the worker's death closes the last writer of the answer pipe, which the coordinator
    /// then sees as end of file.
    private func closePeerEnds() {
        if peerEnds.read >= 0 { Glibc.close(peerEnds.read) }
        if peerEnds.write >= 0 { Glibc.close(peerEnds.write) }
        peerEnds = (-1, -1)
    }

    /// Writes `header` and `meta` (a message whose bulk is in shared memory) in one atomic write.
    func send(header: UnsafeRawBufferPointer, meta: UnsafeRawBufferPointer) -> Sent {
        guard writeDescriptor >= 0 else { return .broken }
        guard let count = PipeFraming.frame(header: header, meta: meta, into: scratch) else { return .tooLarge }
        while true {
            let written = write(writeDescriptor, scratch.baseAddress, count)
            if written == count { return .sent }
            if written < 0, errno == EINTR { continue }
            // A write of at most PIPE_BUF bytes is all or nothing: EAGAIN means no room for it.
            if written < 0, errno == EAGAIN { return .full }
            return .broken
        }
    }

    /// What `receive` found.
    enum Received: Equatable {
        /// The pipe is open; whole messages, if any, wait in `reader`.
        case open
        /// End of file, a read error, or a stream out of step: the peer is gone or broken.
        case closed
    }

    /// Reads whatever the pipe holds into `reader` without waiting. Call after handing out
    /// every whole message `reader` held.
    func receive() -> Received {
        guard readDescriptor >= 0 else { return .closed }
        while true {
            let count = reader.fill { read(readDescriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                if !peerHasOpened {
                    peerHasOpened = true
                    closePeerEnds()
                }
                return .open
            }
            if count == 0 { return .closed }
            if errno == EINTR { continue }
            return errno == EAGAIN ? .open : .closed
        }
    }
}
