import XCTest
@testable import Wire

/// Every hostile or malformed message is rejected with the WireError that names its fault.
final class RejectionTests: XCTestCase {
    let run: UInt64 = 77
    let parameterCount = 1017 * 4
    lazy var toCoordinator = DecodeContext(receiver: .coordinator, runID: run, parameterCount: parameterCount)
    lazy var toWorker = DecodeContext(receiver: .worker, runID: run, parameterCount: parameterCount, shardCount: 10)

    var heartbeat: Frames { encode { $0.signal(.heartbeat, runID: run) } }

    func gradient(_ values: [Int64]) throws -> Frames {
        try encode(bulk: values.withUnsafeBytes { Array($0) }) {
            try $0.gradient(runID: run, step: 1, sampleCount: 8, lossSum: 2, computeNanoseconds: 3,
                            parameterCount: values.count)
        }
    }

    // MARK: Frames and header

    func testRandomBytesNeverDecode() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let frames = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            XCTAssertThrowsError(try decoding(frames, toCoordinator) { _ in })
        }
    }

    func testEmptyFrames() {
        assertRejects([], toCoordinator) { if case .frameCount(0) = $0 { true } else { false } }
        assertRejects([[], [], []], toCoordinator) { if case .headerSize(0) = $0 { true } else { false } }
    }

    func testTooManyOrTooFewFrames() {
        assertRejects(heartbeat + [[]], toCoordinator) { if case .frameCount(4) = $0 { true } else { false } }
        assertRejects(Array(heartbeat.prefix(2)), toCoordinator) { if case .frameCount(2) = $0 { true } else { false } }
    }

    func testShortHeader() {
        var frames = heartbeat
        frames[0].removeLast()
        assertRejects(frames, toCoordinator) { if case .headerSize(31) = $0 { true } else { false } }
    }

    func testWrongMagic() {
        var frames = heartbeat
        frames[0].replaceSubrange(0..<4, with: Array("HTTP".utf8))
        let error = assertRejects(frames, toCoordinator) { if case .badMagic = $0 { true } else { false } }
        XCTAssertEqual(error?.description, "magic 0x50545448 is not 0x52545044 (\"DPTR\"): not a dptrain message")
    }

    func testWrongVersion() {
        var frames = heartbeat
        // Version 3 summed a bf16 run's gradients on float32's grid: a peer that speaks it is refused.
        frames[0].put(UInt16(3), at: 4)
        let error = assertRejects(frames, toCoordinator) { if case .unsupportedVersion(3) = $0 { true } else { false } }
        XCTAssertEqual(error?.description, "protocol version 3, this build speaks version 7")
    }

    func testUnknownType() {
        var frames = heartbeat
        frames[0].put(UInt16(0), at: 6)
        assertRejects(frames, toCoordinator) { if case .unknownType(0) = $0 { true } else { false } }
        frames[0].put(UInt16(4242), at: 6)
        assertRejects(frames, toCoordinator) { if case .unknownType(4242) = $0 { true } else { false } }
    }

    func testMessageTravellingTheWrongWay() throws {
        assertRejects(try gradient([1]), toWorker) {
            if case .wrongDirection(.gradient, receiver: .worker) = $0 { true } else { false }
        }
        let step = try encode(bulk: []) { try $0.step(runID: run, step: 1, epoch: 0, indices: [UInt32](), parameterCount: 0) }
        assertRejects(step, toCoordinator) {
            if case .wrongDirection(.step, receiver: .coordinator) = $0 { true } else { false }
        }
    }

    func testAnotherRunsMessage() {
        let frames = encode { $0.signal(.heartbeat, runID: run + 1) }
        assertRejects(frames, toCoordinator) { if case .runMismatch(got: 78, expected: 77) = $0 { true } else { false } }
    }

    func testHeaderLengthDisagreeingWithPayload() throws {
        var frames = try encode { try $0.hello(Hello(host: "node")) }
        frames[1].append(0)
        assertRejects(frames, toCoordinator) { if case .payloadLength(header: 19, actual: 20) = $0 { true } else { false } }
    }

    func testAbsurdPayloadLength() {
        var frames = heartbeat
        frames[0].put(UInt64(1) << 62, at: 24)
        assertRejects(frames, toCoordinator) {
            if case .payloadLength(header: 1 << 62, actual: 0) = $0 { true } else { false }
        }
    }

    // MARK: Meta

    func testOversizeHelloText() throws {
        let host = String(repeating: "x", count: 300)
        XCTAssertThrowsError(try encode { try $0.hello(Hello(host: host)) }) { error in
            guard case .overLimit(_, 300, 256) = error as? WireError else { return XCTFail("\(error)") }
        }
        // The same message forged by hand: the length is checked before the bytes are read.
        var frames = try encode { try $0.hello(Hello(host: String(repeating: "x", count: 256))) }
        frames[1].put(UInt32(300), at: 4)
        frames[1] += Array(repeating: UInt8(ascii: "x"), count: 44)
        frames[0].put(UInt64(frames[1].count), at: 24)
        let error = assertRejects(frames, toCoordinator) { if case .overLimit(_, 300, 256) = $0 { true } else { false } }
        XCTAssertEqual(error?.description, "hello host length is 300, over the limit of 256")
    }

    func testHelloLengthPastTheEndOfTheFrame() throws {
        var frames = try encode { try $0.hello(Hello(host: "node")) }
        frames[1].put(UInt32(200), at: 4)
        assertRejects(frames, toCoordinator) { if case .truncated(.hello, _) = $0 { true } else { false } }
    }

    /// A hello's thread count decides the worker's share of the shards: none, or more than any host has, is refused.
    func testHelloWithAnImpossibleThreadCount() throws {
        XCTAssertThrowsError(try encode { try $0.hello(Hello(host: "node", threads: 0)) })
        var zero = try encode { try $0.hello(Hello(host: "node", threads: 7)) }
        zero[1].put(UInt16(0), at: 17)
        let none = assertRejects(zero, toCoordinator) { if case .zeroThreads = $0 { true } else { false } }
        XCTAssertEqual(none?.description, "a hello says its worker computes on 0 threads; a worker computes on 1 to 1024")
        for threads in [UInt16(1025), .max] {
            var frames = try encode { try $0.hello(Hello(host: "node", threads: 7)) }
            // previous id (4), host (4 + 4), core (4), flags (1): the count follows.
            frames[1].put(threads, at: 17)
            let error = assertRejects(frames, toCoordinator) { if case .overLimit("hello threads", UInt64(threads), 1024) = $0 { true } else { false } }
            XCTAssertEqual(error?.description, "hello threads is \(threads), over the limit of 1024")
        }
    }

    func testInvalidUTF8() throws {
        var frames = try encode { try $0.hello(Hello(host: "node")) }
        frames[1][8] = 0xFF
        assertRejects(frames, toCoordinator) { if case .invalidUTF8 = $0 { true } else { false } }
    }

    func testTrailingMetaBytes() {
        var frames = heartbeat
        frames[1] = [0]
        frames[0].put(UInt64(1), at: 24)
        assertRejects(frames, toCoordinator) { if case .trailingBytes(.heartbeat, count: 1) = $0 { true } else { false } }
    }

    func testBulkOnAMessageWithoutOne() {
        var frames = heartbeat
        frames[2] = [1, 2, 3]
        frames[0].put(UInt64(3), at: 24)
        assertRejects(frames, toCoordinator) { if case .unexpectedBulk(.heartbeat, bytes: 3) = $0 { true } else { false } }
    }

    func testAbsurdConfigurationLength() throws {
        var frames = try encode { try $0.welcome(Welcome(workerID: 1, configuration: [], parameterCount: 10), runID: run) }
        frames[1].put(UInt32.max, at: 4)
        assertRejects(frames, toWorker) { if case .overLimit(_, 4_294_967_295, 65536) = $0 { true } else { false } }
    }

    func testUnknownRefusalReason() throws {
        var frames = try encode { try $0.refuse(Refusal(reason: .runFull, text: ""), runID: run) }
        frames[1].put(UInt16(99), at: 0)
        assertRejects(frames, toWorker) { if case .unknownRefuseReason(99) = $0 { true } else { false } }
    }

    // MARK: Shard

    func shard(labels: [UInt8], features: Int = 2) throws -> Frames {
        try encode(bulk: Array(repeating: 7, count: labels.count * features)) {
            try $0.shard(runID: run, features: features, classCount: 10, labels: labels)
        }
    }

    func testLabelAtOrOverTheClassCount() throws {
        var frames = try shard(labels: [1, 2, 3])
        // After the count, features and classes (12 bytes), the feature type (1) and the byte scale (4).
        frames[1][17 + 2] = 10
        let error = assertRejects(frames, toWorker) {
            if case .labelOutOfRange(position: 2, label: 10, classCount: 10) = $0 { true } else { false }
        }
        XCTAssertEqual(error?.description, "shard label 2 is 10, the data has 10 classes")
        XCTAssertThrowsError(try shard(labels: [1, 10]))
    }

    /// Float features travel as they are: a NaN among them never reaches a worker's samples.
    func testFloatShardWithANaNOrAnUnknownType() throws {
        var frames = try encode(bulk: bytes(of: [Float(1), 2, .nan, 4])) {
            try $0.shard(runID: run, features: 2, classCount: 10, featureType: .float32, labels: [1, 2])
        }
        let error = assertRejects(frames, toWorker) { if case .shardFeatureNotFinite(position: 2) = $0 { true } else { false } }
        XCTAssertEqual(error?.description, "shard feature 2 is NaN or infinite")
        frames[1][12] = 3
        assertRejects(frames, toWorker) { if case .unknownFeatureType(3) = $0 { true } else { false } }
    }

    func testShardPixelsOfTheWrongSize() throws {
        var frames = try shard(labels: [1, 2, 3])
        frames[2].removeLast()
        frames[0].put(UInt64(frames[1].count + frames[2].count), at: 24)
        assertRejects(frames, toWorker) { if case .shardPixels(expected: 6, actual: 5) = $0 { true } else { false } }
    }

    func testAbsurdShardIsRejectedBeforeAnyAllocation() throws {
        var frames = try shard(labels: [1])
        frames[1].put(UInt32.max, at: 0)
        frames[1].put(UInt32.max, at: 4)
        assertRejects(frames, toWorker) { if case .shardTooLarge = $0 { true } else { false } }
    }

    /// Found by Fuzz/Harnesses/wire-messages.swift: two UInt32 counts times 4 bytes of float32
    /// features overflow a UInt64, which trapped the worker instead of refusing the shard.
    func testAbsurdFloatShardIsRefusedNotATrap() throws {
        var frames = try shard(labels: [1])
        frames[1].put(UInt32.max, at: 0)
        frames[1].put(UInt32.max, at: 4)
        frames[1][12] = ShardFeatureType.float32.rawValue
        assertRejects(frames, toWorker) { if case .shardTooLarge(count: UInt32.max, features: UInt32.max, bytes: UInt64.max) = $0 { true } else { false } }
    }

    func testShardWithNoFeaturesOrTooManyClasses() throws {
        var frames = try shard(labels: [1])
        frames[1].put(UInt32(0), at: 4)
        assertRejects(frames, toWorker) { if case .shardShape(features: 0, classes: 10) = $0 { true } else { false } }
        frames[1].put(UInt32(2), at: 4)
        frames[1].put(UInt32(257), at: 8)
        assertRejects(frames, toWorker) { if case .shardShape(features: 2, classes: 257) = $0 { true } else { false } }
    }

    // MARK: Step

    func step(indices: [UInt32], parameters: [Float]) throws -> Frames {
        try encode(bulk: bytes(of: parameters)) {
            try $0.step(runID: run, step: 5, epoch: 1, indices: indices, parameterCount: parameters.count)
        }
    }

    func testSampleIndexOutOfRange() throws {
        let frames = try step(indices: [0, 9, 10], parameters: Array(repeating: 0, count: parameterCount))
        let error = assertRejects(frames, toWorker) {
            if case .indexOutOfRange(position: 2, index: 10, shardCount: 10) = $0 { true } else { false }
        }
        XCTAssertEqual(error?.description, "step sample index 2 is 10, the shard has 10 samples")
    }

    func testAbsurdIndexCount() throws {
        var frames = try step(indices: [1], parameters: Array(repeating: 0, count: parameterCount))
        frames[1].put(UInt32.max, at: 4)
        assertRejects(frames, toWorker) { if case .truncated(.step, _) = $0 { true } else { false } }
    }

    func testStepParametersOfTheWrongSize() throws {
        let frames = try step(indices: [1], parameters: [1, 2, 3])
        assertRejects(frames, toWorker) {
            if case .parameterCount(.step, got: 3, expected: 4068) = $0 { true } else { false }
        }
    }

    func testInfinityInStepParameters() throws {
        var parameters = [Float](repeating: 1, count: parameterCount)
        parameters[4000] = -.infinity
        assertRejects(try step(indices: [1], parameters: parameters), toWorker) {
            if case .nonFinite(.step, index: 4000, _) = $0 { true } else { false }
        }
    }

    /// Weights in the coordinator's segment are not scanned again (only the coordinator writes
    /// them, after checking they are finite); the same weights in a bulk frame are.
    func testWeightsFromTheCoordinatorsSegmentAreNotRescannedButFromTheNetworkAre() throws {
        var parameters = [Float](repeating: 1, count: parameterCount)
        parameters[4000] = .nan
        let segment = FixedBulk(bytes(of: parameters), step: 9)
        let frames = try encode {
            try $0.step(runID: run, step: 9, epoch: 1, indices: [1], chunkSizes: [1], parameterCount: parameterCount, bulkInSharedMemory: true)
        }
        var context = toWorker
        context.sharedBulk = segment
        try decoding(frames, context) { envelope in
            guard case .step(let view) = envelope.body else { return XCTFail("not a step") }
            XCTAssertEqual(view.parameters.count, parameterCount)
        }
        assertRejects(try step(indices: [1], parameters: parameters), context) {
            if case .nonFinite(.step, index: 4000, _) = $0 { true } else { false }
        }
    }

    // MARK: Gradient

    func testGradientOfTheWrongSize() throws {
        let context = DecodeContext(receiver: .coordinator, runID: run, parameterCount: 101_770)
        let error = assertRejects(try gradient(Array(repeating: 0, count: 1017)), context) {
            if case .parameterCount(.gradient, got: 1017, expected: 101_770) = $0 { true } else { false }
        }
        XCTAssertEqual(error?.description, "gradient has 1017 values, the run's model has 101770 parameters")
    }

    func testGradientNotWholeInt64s() throws {
        var frames = try gradient(Array(repeating: 0, count: parameterCount))
        frames[2].removeLast()
        frames[0].put(UInt64(frames[1].count + frames[2].count), at: 24)
        let bytes = parameterCount * 8 - 1
        assertRejects(frames, toCoordinator) { if case .floatBytes(.gradient, bytes: bytes) = $0 { true } else { false } }
    }

    /// A gradient of Float32s, as protocol 1 sent, is half the size of the run's Int64 sums.
    func testFloatGradientIsRefused() throws {
        var frames = try gradient(Array(repeating: 0, count: parameterCount))
        frames[2] = bytes(of: [Float](repeating: .nan, count: parameterCount))
        frames[0].put(UInt64(frames[1].count + frames[2].count), at: 24)
        assertRejects(frames, toCoordinator) {
            if case .parameterCount(.gradient, got: let got, expected: let expected) = $0 { got * 2 == expected } else { false }
        }
    }

    /// Any Int64 decodes as sent: whether a sum is within its chunks' bound is the coordinator's
    /// state machine's check (CoordinatorStateMachineTests, DistributedTrainingTests), which
    /// knows how many chunks the answer covers.
    func testExtremeFixedPointValuesReachTheCoordinatorUnchanged() throws {
        var values = [Int64](repeating: 3, count: parameterCount)
        values[17] = .min
        values[parameterCount - 1] = .max
        try decoding(try gradient(values), toCoordinator) { envelope in
            guard case .gradient(let reply) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(reply.sums.loadUnaligned(fromByteOffset: 17 * 8, as: Int64.self), .min)
            XCTAssertEqual(reply.sums.loadUnaligned(fromByteOffset: (parameterCount - 1) * 8, as: Int64.self), .max)
        }
    }

    /// A gradient's bytes per value must be 1 to 8, and its bulk that many bytes a parameter.
    func testGradientValueWidthIsChecked() throws {
        for width: UInt8 in [0, 9, 255] {
            var frames = try gradient(Array(repeating: 0, count: parameterCount))
            frames[1][frames[1].count - 1] = width
            assertRejects(frames, toCoordinator) {
                if case .overLimit(field: "gradient bytes per value", _, _) = $0 { true } else { false }
            }
        }
        var frames = try gradient(Array(repeating: 0, count: parameterCount))
        frames[1][frames[1].count - 1] = 5   // says 5 bytes a value, carries 8
        assertRejects(frames, toCoordinator) {
            switch $0 {
            case .floatBytes(.gradient, _), .parameterCount(.gradient, _, _): true
            default: false
            }
        }
    }

    func testNaNLossSum() throws {
        var frames = try gradient(Array(repeating: 0, count: parameterCount))
        frames[1].put(Double.nan.bitPattern, at: 4)
        assertRejects(frames, toCoordinator) { if case .lossNotFinite = $0 { true } else { false } }
    }

    func testGradientMetaCutShort() throws {
        var frames = try gradient(Array(repeating: 0, count: parameterCount))
        frames[1].removeLast(4)
        frames[0].put(UInt64(frames[1].count + frames[2].count), at: 24)
        assertRejects(frames, toCoordinator) { if case .truncated(.gradient, _) = $0 { true } else { false } }
    }
}

/// A shared bulk that holds `data` for `step`, as a segment that published it would.
final class FixedBulk: SharedBulkSource {
    let data: UnsafeMutableRawBufferPointer
    let step: UInt64
    init(_ bytes: [UInt8], step: UInt64) {
        data = .allocate(byteCount: bytes.count, alignment: 64)
        data.copyBytes(from: bytes)
        self.step = step
    }
    deinit { data.deallocate() }
    func bulk(step: UInt64, length: Int) -> UnsafeRawBufferPointer? {
        step == self.step && length == data.count ? UnsafeRawBufferPointer(data) : nil
    }
}
