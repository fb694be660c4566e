import Dataset
import Foundation
import MLP
import Plan
import Roles
import Training
import Wire
import XCTest
import ZMQ
@testable import Distributed

/// The same-host bulk transport, in one process (workers on threads open the coordinator's
/// memory files through /proc like any process of the same user).
extension DistributedTrainingTests {
    /// Shared memory moves the same bits as the socket: the same weights, to the bit, in float32 and in bf16.
    func testSharedMemoryGivesTheSocketsWeightsToTheBit() throws {
        var config = TrainingConfig.standard()
        config.epochs = 1
        config.batchSize = 96   // 3 shards: every worker computes
        let train = mnist.train.subset(0..<2048), test = mnist.test.subset(0..<100)
        for precision in WirePrecision.allCases {
            let shared = try distributed(config, workers: 3, train: train, test: test, precision: precision)
            XCTAssertEqual(shared.coordinator.sharedMemory.slots.count, 3, "every worker on this host takes shared memory")
            let socket = try distributed(config, workers: 3, train: train, test: test, precision: precision, sharedMemory: false)
            XCTAssertEqual(socket.coordinator.sharedMemory.slots.count, 0)
            XCTAssertEqual(shared.coordinator.parameters, socket.coordinator.parameters, "\(precision)")
            XCTAssertEqual(shared.report.step, socket.report.step)
        }
    }

    /// A member whose gradient message names shared memory that does not hold its step whole
    /// (never published, as when a worker dies mid-write; another length; another step) is never
    /// read: the message is dropped, the member is lost at the deadline, and the garbage in its
    /// slot never reaches the weights.
    func testASlotThatDoesNotHoldTheStepWholeIsNeverRead() throws {
        var config = TrainingConfig.standard()
        config.epochs = 1
        config.batchSize = 64   // 2 shards: the torn writer holds one, so it is asked for a step
        let train = mnist.train.subset(0..<1024), test = mnist.test.subset(0..<100)
        let context = try Context()
        let coordinator = try Coordinator(config: config, train: train, test: test, options: CoordinatorOptions(workers: 2, stepDeadline: 1),
                                          endpoint: "tcp://127.0.0.1:*", context: context, logger: Self.quiet)
        let done = DispatchGroup()
        let worker = try Worker(endpoint: coordinator.endpoint, context: context, logger: Self.quiet, giveUpAfterSeconds: 60)
        done.enter()
        Thread { try? worker.run(); done.leave() }.start()
        var sent = 0
        done.enter()
        let writer = try TornWriter(endpoint: coordinator.endpoint)
        Thread { sent = (try? writer.answerFirstStepTorn()) ?? -1; done.leave() }.start()
        let report = try coordinator.run()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)

        XCTAssertEqual(sent, 3)
        XCTAssertEqual(coordinator.machine.dropped["malformed"], 3, "\(coordinator.machine.dropped)")
        XCTAssertEqual(coordinator.machine.members.count, 1)
        XCTAssertTrue(coordinator.parameters.allSatisfy { $0.isFinite && abs($0) < 100 })
        XCTAssertGreaterThan(report.testAccuracy, 0.5)
    }
}

extension DistributedTrainingTests {
    /// The segment hands a receiver a shared bulk only for the step and the length it was
    /// published with; a worker's second answer of one step (chunks of a worker lost meanwhile)
    /// does not overwrite the first, which the coordinator may not have read yet.
    func testASlotHoldsOneAnswerAStepAndHandsItOutWholeOnly() throws {
        var sum = FixedPointSum(format: FixedPointFormat(largestChunk: 1), count: 3), other = sum
        [1, -2, 3 << 40].withUnsafeBytes { sum.add(received: $0) }
        [7, 7, 7].withUnsafeBytes { other.add(received: $0) }
        let width = sum.packedWidth, bytes = 3 * width   // 6 bytes a value: 3 << 40 needs 43 bits
        let weights = try SharedSegment.create(dataBytes: 8), slot = try SharedSegment.create(dataBytes: bytes)
        var worker = try WorkerSharedMemory(SharedMemoryGrant(pid: UInt32(getpid()), weightsDescriptor: UInt32(weights.descriptor),
                                                              weightsNonce: weights.nonce, slotDescriptor: UInt32(slot.descriptor),
                                                              slotNonce: slot.nonce, stepPipeDescriptor: 0, answerPipeDescriptor: 0),
                                            weightBytes: 8, gradientBytes: bytes)
        XCTAssertNil(slot.bulk(step: 5, length: bytes), "nothing published yet")
        XCTAssertTrue(worker.publish(sum, width: width, step: 5))
        XCTAssertFalse(worker.publish(other, width: 1, step: 5), "a second answer of step 5 goes over the socket")
        let published = try XCTUnwrap(slot.bulk(step: 5, length: bytes))
        var back = FixedPointSum(format: sum.format, count: 3)
        back.add(received: published, width: width)
        XCTAssertEqual(width, 6)
        XCTAssertEqual(back.values, [1, -2, 3 << 40], "packed in the slot as over a socket")
        XCTAssertNil(slot.bulk(step: 4, length: bytes), "another step")
        XCTAssertNil(slot.bulk(step: 5, length: bytes - 3), "another length")
        XCTAssertNil(slot.bulk(step: 5, length: bytes + 3), "longer than the slot holds")
        XCTAssertTrue(worker.publish(other, width: 1, step: 6))
        XCTAssertNil(slot.bulk(step: 5, length: bytes))
        XCTAssertNotNil(slot.bulk(step: 6, length: 3))
    }
}

/// A member on this host that takes shared memory, then claims a gradient its slot does not hold.
struct TornWriter {
    let member: HandDrivenMember

    init(endpoint: String) throws { member = try HandDrivenMember(endpoint: endpoint) }

    /// Joins, waits for its first step, fills its slot with huge values, and sends three gradient
    /// messages for the step that its slot does not back; returns how many it sent.
    func answerFirstStepTorn() throws -> Int {
        let first = try XCTUnwrap(member.joinAndAwaitFirstStep(host: "torn writer", offersSharedMemory: true))
        let bytes = first.welcome.parameterCount * gradientBytesPerValue
        let shared = try WorkerSharedMemory(XCTUnwrap(first.welcome.sharedMemory), weightBytes: first.welcome.parameterCount * 4,
                                            gradientBytes: bytes)
        shared.slot.data.initializeMemory(as: Int64.self, repeating: 1 << 62)
        var sent = 0
        for publish in [nil, (first.step, bytes - 8), (first.step - 1, bytes)] as [(UInt64, Int)?] {
            if let (sequence, length) = publish { shared.slot.publish(sequence: sequence, length: length) }
            try member.encoder.gradient(runID: first.runID, step: first.step, sampleCount: 32, lossSum: 1, computeNanoseconds: 1,
                                        parameterCount: bytes / gradientBytesPerValue, bulkInSharedMemory: true)
            try member.socket.send(copying: member.encoder.frames())
            sent += 1
        }
        return sent
    }
}

/// Shared memory that only its owner writes: the weights only the coordinator, a slot only its member.
extension DistributedTrainingTests {
    /// Another process of the coordinator's user (python3 here) opens the weights through
    /// /proc/PID/fd/FD, as a worker does, and tries every way to change them: write(2), a writable
    /// shared mapping, shrinking the file under the coordinator's mapping. The seal refuses each,
    /// and the weights are the coordinator's to the bit. (Before the seal: all three went through.)
    func testAnotherProcessOfTheUserCannotWriteTheSharedWeights() throws {
        let weights = try CoordinatorSharedMemory.makeWeights(dataBytes: 64)
        let values = (0..<16).map(Float.init)
        values.withUnsafeBytes { weights.data.copyMemory(from: $0) }
        weights.publish(sequence: 7, length: 64)

        let attempts = try attack("/proc/\(getpid())/fd/\(weights.descriptor)", offset: SharedSegment.headerBytes)
        XCTAssertEqual(attempts, ["write: refused", "writable mapping: refused", "shrink: refused"])
        XCTAssertEqual(Array(weights.data.bindMemory(to: Float.self)), values)
        XCTAssertNotNil(weights.bulk(step: 7, length: 64), "still published as the coordinator left it")
    }

    /// A member maps the weights read-only: the kernel refuses to make its mapping writable, so
    /// no member (a faulty one, or one an attacker runs) can change what every member reads.
    func testAMemberMapsTheWeightsReadOnly() throws {
        let weights = try CoordinatorSharedMemory.makeWeights(dataBytes: 64), slot = try SharedSegment.create(dataBytes: 64)
        let member = try WorkerSharedMemory(grant(weights: weights, slot: slot), weightBytes: 64, gradientBytes: 64)
        let mapping = UnsafeMutableRawPointer(member.weights.data.baseAddress! - SharedSegment.headerBytes)
        XCTAssertEqual(mprotect(mapping, SharedSegment.headerBytes + 64, PROT_READ | PROT_WRITE), -1)
        XCTAssertEqual(errno, EACCES)
        XCTAssertEqual(mprotect(UnsafeMutableRawPointer(member.slot.data.baseAddress! - SharedSegment.headerBytes),
                                SharedSegment.headerBytes + 64, PROT_READ | PROT_WRITE), 0, "its slot is its own to write")
    }

    /// Once the member has mapped its slot (its first answer shows it), the coordinator hands the
    /// slot over: a process that opened it before can no longer write it or map it writable, the
    /// coordinator's descriptor is gone from /proc, and the member's own mapping goes on writing.
    func testASlotHandedOverIsWrittenByItsMemberAlone() throws {
        let weights = try CoordinatorSharedMemory.makeWeights(dataBytes: 8), slot = try SharedSegment.create(dataBytes: 64)
        let early = open("/proc/self/fd/\(slot.descriptor)", O_RDWR)   // an opener that raced the member
        XCTAssertGreaterThanOrEqual(early, 0)
        defer { close(early) }
        var member = try WorkerSharedMemory(grant(weights: weights, slot: slot), weightBytes: 8, gradientBytes: 64)
        slot.handOver()

        XCTAssertEqual(slot.descriptor, -1)
        var garbage = UInt64.max
        XCTAssertEqual(pwrite(early, &garbage, 8, off_t(SharedSegment.headerBytes)), -1)
        XCTAssertEqual(errno, EPERM)
        XCTAssertEqual(mmap(nil, SharedSegment.headerBytes + 64, PROT_READ | PROT_WRITE, MAP_SHARED, early, 0), MAP_FAILED)
        XCTAssertEqual(ftruncate(early, 0), -1, "nor shrink it under the coordinator's mapping")
        var sum = FixedPointSum(format: FixedPointFormat(largestChunk: 1), count: 8)
        [Int64](1...8).withUnsafeBytes { sum.add(received: $0) }
        XCTAssertTrue(member.publish(sum, width: 8, step: 3))
        XCTAssertEqual(try XCTUnwrap(slot.bulk(step: 3, length: 64)).bindMemory(to: Int64.self).map { $0 }, Array(1...8))
    }

    private func grant(weights: SharedSegment, slot: SharedSegment) -> SharedMemoryGrant {
        SharedMemoryGrant(pid: UInt32(getpid()), weightsDescriptor: UInt32(weights.descriptor), weightsNonce: weights.nonce,
                          slotDescriptor: UInt32(slot.descriptor), slotNonce: slot.nonce, stepPipeDescriptor: 0, answerPipeDescriptor: 0)
    }

    /// Runs another process that opens `path` for writing and tries to change the bytes at `offset`
    /// three ways; returns what became of each ("write: wrote" or "write: refused", ...).
    private func attack(_ path: String, offset: Int) throws -> [String] {
        let script = """
        import mmap, os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        offset = int(sys.argv[2])
        def attempt(name, action):
            try:
                action()
                print(name + ": wrote")
            except (OSError, ValueError):
                print(name + ": refused")
        def map_and_write():
            mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)[offset:offset + 4] = b"\\xff" * 4
        attempt("write", lambda: os.pwrite(fd, b"\\xff" * 4, offset))
        attempt("writable mapping", map_and_write)
        attempt("shrink", lambda: os.ftruncate(fd, 0))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path, String(offset)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        return text.split(separator: "\n").map(String.init)
    }
}
