import Foundation
import Wire
import XCTest
@testable import Distributed

/// A doorbell's two real pipes, the worker's ends opened through /proc/PID/fd like a worker
/// process opens them (this process plays both ends).
final class DoorbellTests: XCTestCase {
    override func setUp() {
        // As Coordinator.run and Worker.run do: a write to a pipe with no reader is EPIPE, not death.
        signal(SIGPIPE, SIG_IGN)
    }

    func pair() throws -> (coordinator: Doorbell, worker: Doorbell) {
        let coordinator = try Doorbell.makeForCoordinator()
        let worker = try Doorbell.openForWorker(pid: getpid(), stepPipe: coordinator.peerEnds.read, answerPipe: coordinator.peerEnds.write)
        return (coordinator, worker)
    }

    /// A step's header and meta, as the coordinator encodes it for a member that reads its weights in shared memory.
    func sendStep(_ doorbell: Doorbell, step: UInt64, indices: Int = 4) throws -> Doorbell.Sent {
        var encoder = MessageEncoder()
        try encoder.step(runID: 5, step: step, epoch: 1, indices: (0..<UInt32(indices)).map { $0 }, chunkSizes: [UInt32(indices)],
                         parameterCount: 10, bulkInSharedMemory: true)
        return encoder.withHeaderAndMeta { doorbell.send(header: $0, meta: $1) }
    }

    func steps(_ doorbell: Doorbell) throws -> [UInt64] {
        var steps: [UInt64] = []
        while let step = try doorbell.reader.next({ try Header(parsing: $0[0]).step }) { steps.append(step) }
        return steps
    }

    func testStepsGoThroughAndTheWorkersFirstAnswerClosesTheCoordinatorsCopies() throws {
        let (coordinator, worker) = try pair()
        XCTAssertEqual(try sendStep(coordinator, step: 1), .sent)
        XCTAssertEqual(try sendStep(coordinator, step: 2), .sent)
        XCTAssertEqual(worker.receive(), .open)
        XCTAssertEqual(try steps(worker), [1, 2])
        XCTAssertEqual(worker.receive(), .open, "nothing to read yet is not the end")
        XCTAssertTrue(try steps(worker).isEmpty)

        XCTAssertGreaterThanOrEqual(coordinator.peerEnds.write, 0)
        XCTAssertEqual(try sendStep(worker, step: 2), .sent)   // any message: the coordinator reads framing, not types, here
        XCTAssertEqual(coordinator.receive(), .open)
        XCTAssertTrue(coordinator.peerHasOpened)
        XCTAssertEqual(coordinator.peerEnds.read, -1, "its copies of the worker's ends are closed once the worker has its own")
        XCTAssertEqual(coordinator.peerEnds.write, -1)
        XCTAssertEqual(try steps(coordinator), [2])
    }

    /// The worker gone (killed: its descriptors closed): the coordinator reads end of file, and
    /// a step written to it is EPIPE (`.broken`), not a SIGPIPE that kills the coordinator.
    func testAWorkerGoneIsEndOfFileAndEPIPE() throws {
        var (coordinator, worker) = try pair()
        XCTAssertEqual(try sendStep(worker, step: 1), .sent)
        XCTAssertEqual(coordinator.receive(), .open)
        XCTAssertEqual(try steps(coordinator), [1])
        worker.close()
        worker = try Doorbell.makeForCoordinator()   // drop nothing else
        XCTAssertEqual(coordinator.receive(), .closed)
        XCTAssertEqual(try sendStep(coordinator, step: 2), .broken)
    }

    /// The coordinator gone: the worker reads what it sent before it went, then end of file.
    func testACoordinatorGoneIsEndOfFileAfterWhatItSent() throws {
        let (coordinator, worker) = try pair()
        XCTAssertEqual(try sendStep(worker, step: 1), .sent)
        XCTAssertEqual(coordinator.receive(), .open)   // the worker has opened its ends: the coordinator's copies are closed
        XCTAssertEqual(try sendStep(coordinator, step: 7), .sent)
        coordinator.close()
        XCTAssertEqual(worker.receive(), .open, "a read returns what was sent")
        XCTAssertEqual(try steps(worker), [7])
        XCTAssertEqual(worker.receive(), .closed, "the next one, the end")
    }

    /// A reader that stopped reading fills the pipe: the next step is `.full` (a full queue), never a blocked coordinator.
    func testAFullPipeIsAFullQueue() throws {
        let (coordinator, worker) = try pair()
        var sent = 0
        while try sendStep(coordinator, step: UInt64(sent + 1)) == .sent { sent += 1; if sent > 100_000 { break } }
        XCTAssertGreaterThan(sent, 10)
        XCTAssertLessThan(sent, 100_000, "a pipe holds a bounded amount")
        XCTAssertEqual(try sendStep(coordinator, step: 1), .full)
        XCTAssertEqual(worker.receive(), .open)
        XCTAssertEqual(try steps(worker).first, 1, "every message in the pipe is whole")
    }

    /// A step whose indices do not fit one atomic write is not written: the socket carries it.
    func testAStepTooLargeForOneWriteIsNotWritten() throws {
        let (coordinator, worker) = try pair()
        XCTAssertEqual(try sendStep(coordinator, step: 1, indices: 2000), .tooLarge)
        XCTAssertEqual(worker.receive(), .open)
        XCTAssertEqual(worker.reader.pendingBytes, 0)
    }

    /// A descriptor that is not a pipe (the weights' memory file, say) is refused by the worker.
    func testOpeningSomethingThatIsNotAPipeFails() throws {
        let segment = try SharedSegment.create(dataBytes: 64)
        let coordinator = try Doorbell.makeForCoordinator()
        XCTAssertThrowsError(try Doorbell.openForWorker(pid: getpid(), stepPipe: segment.descriptor, answerPipe: coordinator.peerEnds.write))
    }
}
