import XCTest
@testable import Wire

/// A doorbell's byte stream: whole messages out of whatever reads return, and garbage refused.
final class PipeFramingTests: XCTestCase {
    let run: UInt64 = 77

    /// A gradient-ready answer's header and meta, framed as a pipe carries it.
    func framedAnswer(step: UInt64) throws -> [UInt8] {
        var encoder = MessageEncoder()
        try encoder.gradient(runID: run, step: step, sampleCount: 128, lossSum: 2.5, computeNanoseconds: 9, parameterCount: 10,
                             bulkInSharedMemory: true, correct: 100)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: PipeFraming.messageBytes, alignment: 16)
        defer { buffer.deallocate() }
        let count = try XCTUnwrap(encoder.withHeaderAndMeta { PipeFraming.frame(header: $0, meta: $1, into: buffer) })
        return Array(buffer[0..<count])
    }

    /// Feeds `bytes` to `reader` as one read.
    func feed(_ reader: PipeReader, _ bytes: ArraySlice<UInt8>) {
        let count = reader.fill { free in
            bytes.withUnsafeBytes { free.copyMemory(from: $0) }
            return bytes.count
        }
        XCTAssertEqual(count, bytes.count)
    }

    /// The next whole message's step, decoded by the socket's decoder; nil when none is whole.
    func nextStep(_ reader: PipeReader) throws -> UInt64? {
        try reader.next { frames in
            XCTAssertEqual(frames.count, framesPerMessage)
            XCTAssertTrue(frames[2].isEmpty)
            let envelope = try decode(frames: frames, context: DecodeContext(receiver: .coordinator, runID: run))
            guard case .gradient(let view) = envelope.body else { throw NotAGradient(body: "\(envelope.body)") }
            XCTAssertEqual(view.sampleCount, 128)
            XCTAssertEqual(view.correct, 100)
            return envelope.step
        }
    }

    func testAMessageInPiecesComesOutWholeOnceItsLastByteIsIn() throws {
        let bytes = try framedAnswer(step: 3)
        let reader = PipeReader()
        feed(reader, bytes[0..<1])
        XCTAssertNil(try nextStep(reader), "one byte of the length")
        feed(reader, bytes[1..<20])
        XCTAssertNil(try nextStep(reader), "the length and part of the header")
        feed(reader, bytes[20..<(bytes.count - 1)])
        XCTAssertNil(try nextStep(reader), "all but the last byte")
        feed(reader, bytes[(bytes.count - 1)...])
        XCTAssertEqual(try nextStep(reader), 3)
        XCTAssertNil(try nextStep(reader))
        XCTAssertEqual(reader.pendingBytes, 0)
    }

    func testSeveralMessagesInOneReadComeOutInOrderAndAPartIsKept() throws {
        let stream = try framedAnswer(step: 1) + framedAnswer(step: 2) + framedAnswer(step: 3)
        let part = try framedAnswer(step: 4)
        let reader = PipeReader()
        feed(reader, (stream + part.prefix(10))[...])
        XCTAssertEqual(try nextStep(reader), 1)
        XCTAssertEqual(try nextStep(reader), 2)
        XCTAssertEqual(try nextStep(reader), 3)
        XCTAssertNil(try nextStep(reader))
        XCTAssertEqual(reader.pendingBytes, 10)
        feed(reader, part[10...])
        XCTAssertEqual(try nextStep(reader), 4)
    }

    /// A message larger than one atomic write is not framed: it goes over the socket.
    func testAMessageOverOneAtomicWriteIsRefused() throws {
        var encoder = MessageEncoder()
        let indices = [UInt32](repeating: 0, count: 1100)   // 4,400 bytes of indices
        try encoder.step(runID: run, step: 1, epoch: 1, indices: indices, chunkSizes: [1100], parameterCount: 10, bulkInSharedMemory: true)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * PipeFraming.messageBytes, alignment: 16)
        defer { buffer.deallocate() }
        XCTAssertNil(encoder.withHeaderAndMeta { PipeFraming.frame(header: $0, meta: $1, into: buffer) })
        try encoder.step(runID: run, step: 1, epoch: 1, indices: Array(indices.prefix(128)), chunkSizes: [128], parameterCount: 10,
                         bulkInSharedMemory: true)
        let count = try XCTUnwrap(encoder.withHeaderAndMeta { PipeFraming.frame(header: $0, meta: $1, into: buffer) })
        XCTAssertLessThanOrEqual(count, PipeFraming.messageBytes)
    }

    /// A length no writer can have written, frames that do not add up, or a bulk frame: the
    /// stream is out of step, and the reader says so rather than guess where a message starts.
    func testAStreamOutOfStepIsRefused() throws {
        let good = try framedAnswer(step: 1)
        var oversize = good
        oversize.put(UInt32(PipeFraming.messageBytes), at: 0)
        var undersize = good
        undersize.put(UInt32(3), at: 0)
        var frameTooLong = good
        frameTooLong.put(UInt32(4000), at: 4)   // the header frame's length
        var withBulk = good
        withBulk.put(UInt32(good.count - 4 + 2), at: 0)
        withBulk.put(UInt32(2), at: good.count - 4)
        withBulk += [1, 2]
        for (name, bytes) in [("oversize", oversize), ("undersize", undersize), ("frame too long", frameTooLong), ("bulk", withBulk)] {
            let reader = PipeReader()
            feed(reader, bytes[...])
            XCTAssertThrowsError(try nextStep(reader), name) { XCTAssertTrue($0 is PipeFramingError, "\(name): \($0)") }
        }
    }

    /// What the pipe carries is checked as a socket's message is: a header for another run is refused by the decoder.
    func testAWholeMessageStillGoesThroughEveryCheck() throws {
        var bytes = try framedAnswer(step: 1)
        bytes.put(UInt64(999), at: 4 + 4 + 8)   // the header's run id
        let reader = PipeReader()
        feed(reader, bytes[...])
        XCTAssertThrowsError(try nextStep(reader)) {
            guard case WireError.runMismatch(got: 999, expected: 77) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(reader.pendingBytes, 0, "the refused message is consumed: the next one is read")
    }
}

/// A framed message that decoded to something other than the gradient it was made as: a failure.
struct NotAGradient: Error { let body: String }
