import XCTest
@testable import Wire

final class RoundTripTests: XCTestCase {
    let run: UInt64 = 0xDEAD_BEEF_0042
    lazy var toCoordinator = DecodeContext(receiver: .coordinator, runID: run, parameterCount: 5)
    lazy var toWorker = DecodeContext(receiver: .worker, runID: run, parameterCount: 5, shardCount: 4)

    func testHeaderLayoutIsFixedLittleEndian() throws {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeMutableBytes {
            Header(type: .gradient, runID: 0x0102_0304_0506_0708, step: 9, payloadLength: 10).write(to: $0)
        }
        XCTAssertEqual(Array(bytes[0..<4]), Array("DPTR".utf8))
        XCTAssertEqual(Array(bytes[4..<8]), [7, 0, 6, 0])
        XCTAssertEqual(Array(bytes[8..<16]), [8, 7, 6, 5, 4, 3, 2, 1])
        XCTAssertEqual(bytes[16], 9)
        XCTAssertEqual(bytes[24], 10)
        let header = try bytes.withUnsafeBytes { try Header(parsing: $0) }
        XCTAssertEqual(header, Header(type: .gradient, runID: 0x0102_0304_0506_0708, step: 9, payloadLength: 10))
    }

    /// The hello carries the BLAS core and its flag, and after them the shared-memory offer when there is one.
    func testHello() throws {
        for (offer, bf16, threads) in [(nil, false, UInt16(1)), (SharedMemoryOffer(hostIdentity: "boot-id pid:[4026531836]"), true, 16), (nil, true, 1024)] {
            let sent = Hello(previousWorkerID: 3, host: "node-ü pid 42", blasCore: "SkylakeX", acceptsOtherKernels: !bf16,
                             computesBF16: bf16, threads: threads, sharedMemory: offer)
            let frames = try encode { try $0.hello(sent) }
            try decoding(frames, toCoordinator) { envelope in
                guard case .hello(let hello) = envelope.body else { return XCTFail("\(envelope.body)") }
                XCTAssertEqual(hello, sent)
                XCTAssertEqual(envelope.header.runID, 0) // a new worker does not know the run yet
            }
        }
    }

    func testFailure() throws {
        let frames = try encode { try $0.failure("the loss became NaN at step 12", runID: run, step: 12) }
        try decoding(frames, toCoordinator) { envelope in
            guard case .failure(let reason) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(reason, "the loss became NaN at step 12")
            XCTAssertEqual(envelope.step, 12)
        }
        // It only travels to a coordinator.
        assertRejects(frames, toWorker) { if case .wrongDirection(.failure, .worker) = $0 { return true } else { return false } }
    }

    func testWelcome() throws {
        let config = Array(#"{"hidden":[128],"lr":0.1}"#.utf8)
        let frames = try encode {
            try $0.welcome(Welcome(workerID: 7, configuration: config, parameterCount: 101_770), runID: run)
        }
        // A worker accepts any run until it is welcomed into one.
        try decoding(frames, DecodeContext(receiver: .worker)) { envelope in
            guard case .welcome(let welcome) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(welcome, Welcome(workerID: 7, configuration: config, parameterCount: 101_770))
            XCTAssertEqual(envelope.header.runID, run)
        }
    }

    /// A grant names the segments and the doorbell's two pipes; a grant cut short is refused.
    func testWelcomeWithAGrantCarriesItsSegmentsAndPipes() throws {
        let grant = SharedMemoryGrant(pid: 4242, weightsDescriptor: 7, weightsNonce: 1 << 60, slotDescriptor: 8, slotNonce: 12345,
                                      stepPipeDescriptor: 9, answerPipeDescriptor: 11)
        let welcome = Welcome(workerID: 3, configuration: Array("{}".utf8), parameterCount: 10, sharedMemory: grant)
        let frames = try encode { try $0.welcome(welcome, runID: run) }
        try decoding(frames, DecodeContext(receiver: .worker)) { envelope in
            guard case .welcome(let decoded) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(decoded, welcome)
            XCTAssertEqual(decoded.sharedMemory?.stepPipeDescriptor, 9)
            XCTAssertEqual(decoded.sharedMemory?.answerPipeDescriptor, 11)
        }
        var short = frames
        short[1].removeLast(4)   // no answer pipe
        short[0].put(UInt64(short[1].count), at: 24)
        assertRejects(short, DecodeContext(receiver: .worker)) { if case .truncated(.welcome, _) = $0 { true } else { false } }
    }

    func testRefuse() throws {
        for reason in RefuseReason.allCases {
            let frames = try encode { try $0.refuse(Refusal(reason: reason, text: "sorry: \(reason)"), runID: run) }
            try decoding(frames, toWorker) { envelope in
                guard case .refuse(let refusal) = envelope.body else { return XCTFail("\(envelope.body)") }
                XCTAssertEqual(refusal, Refusal(reason: reason, text: "sorry: \(reason)"))
            }
        }
    }

    func testShard() throws {
        let pixels: [UInt8] = Array(0..<12)
        let frames = try encode(bulk: pixels) {
            try $0.shard(runID: run, features: 4, classCount: 10, labels: [9, 0, 5] as [UInt8])
        }
        try decoding(frames, toWorker) { envelope in
            guard case .shard(let shard) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual([shard.count, shard.features, shard.classCount], [3, 4, 10])
            XCTAssertEqual(Array(shard.pixels), pixels)
            XCTAssertEqual(Array(shard.labels), [9, 0, 5])
            XCTAssertEqual(shard.featureType, .uint8)
            XCTAssertEqual(shard.byteScale, 1 / 255)
        }
    }

    func testFloatShardWithItsType() throws {
        let values: [Float] = [0.5, -1, 3e-8, 2]
        let frames = try encode(bulk: bytes(of: values)) {
            try $0.shard(runID: run, features: 2, classCount: 3, featureType: .float32, byteScale: 1 / 16, labels: [2, 0] as [UInt8])
        }
        try decoding(frames, toWorker) { envelope in
            guard case .shard(let shard) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(shard.featureType, .float32)
            XCTAssertEqual(shard.byteScale, 1 / 16)
            XCTAssertEqual(Array(shard.pixels), bytes(of: values))
        }
    }

    func testStepCopiesParametersIntoTheCallersBuffer() throws {
        let parameters: [Float] = [0.5, -1, 3e-8, 0, 65504]
        let frames = try encode(bulk: bytes(of: parameters)) {
            try $0.step(runID: run, step: 12, epoch: 2, indices: [3, 0, 1] as [UInt32], parameterCount: 5)
        }
        var received = [Float](repeating: .nan, count: 5)
        try decoding(frames, toWorker) { envelope in
            guard case .step(let step) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(envelope.step, 12)
            XCTAssertEqual(step.epoch, 2)
            XCTAssertEqual(Array(step.indices), [3, 0, 1])
            XCTAssertEqual(Array(step.chunkSizes), [3])
            XCTAssertEqual(Array(step.parameters), parameters)
            received.withUnsafeMutableBufferPointer { step.parameters.copy(into: $0) }
        }
        XCTAssertEqual(received, parameters)
    }

    func testStepCarriesItsChunks() throws {
        let frames = try encode(bulk: bytes(of: [Float](repeating: 1, count: 3))) {
            try $0.step(runID: run, step: 4, epoch: 1, indices: [5, 6, 7, 8, 9] as [UInt32], chunkSizes: [2, 3] as [UInt32], parameterCount: 3)
        }
        try decoding(frames, DecodeContext(receiver: .worker, runID: run, parameterCount: 3, shardCount: 10)) { envelope in
            guard case .step(let step) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(Array(step.indices), [5, 6, 7, 8, 9])
            XCTAssertEqual(Array(step.chunkSizes), [2, 3])
        }
    }

    func testGradientCarriesFixedPointSums() throws {
        let sums: [Int64] = [1, -2, 1 << 52, 0, -(1 << 40)]
        let frames = try encode(bulk: sums.withUnsafeBytes { Array($0) }) {
            try $0.gradient(runID: run, step: 12, sampleCount: 32, lossSum: 73.25,
                            computeNanoseconds: 1_234_567, parameterCount: 5, correct: 29)
        }
        XCTAssertEqual(frames[2].count, 40, "eight bytes a parameter")
        try decoding(frames, toCoordinator) { envelope in
            guard case .gradient(let reply) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(envelope.step, 12)
            XCTAssertEqual(reply.sampleCount, 32)
            XCTAssertEqual(reply.lossSum, 73.25)
            XCTAssertEqual(reply.computeNanoseconds, 1_234_567)
            XCTAssertEqual(reply.correct, 29)
            XCTAssertEqual((0..<5).map { reply.sums.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }, sums)
        }
    }

    /// Sums packed to 5 bytes a value travel as 5 bytes a value, and the view says so.
    func testGradientCarriesPackedSums() throws {
        let sums: [Int64] = [1, -2, (1 << 39) - 1, 0, -(1 << 39)]
        let packed = sums.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0.prefix(5)) } }
        let frames = try encode(bulk: packed) {
            try $0.gradient(runID: run, step: 12, sampleCount: 32, lossSum: 73.25,
                            computeNanoseconds: 1_234_567, parameterCount: 5, correct: 29, valueBytes: 5)
        }
        XCTAssertEqual(frames[2].count, 25, "five bytes a parameter")
        try decoding(frames, toCoordinator) { envelope in
            guard case .gradient(let reply) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(reply.valueBytes, 5)
            XCTAssertEqual(Array(reply.sums), packed)
        }
    }

    func testSignals() throws {
        let cases: [(MessageType, DecodeContext)] = [
            (.heartbeat, toCoordinator), (.heartbeat, toWorker), (.goodbye, toCoordinator), (.shutdown, toWorker),
        ]
        for (type, context) in cases {
            let frames = encode { $0.signal(type, runID: run, step: 99) }
            XCTAssertEqual(frames.map(\.count), [32, 0, 0])
            try decoding(frames, context) { envelope in
                XCTAssertEqual(envelope.type, type)
                XCTAssertEqual(envelope.step, 99)
            }
        }
    }

    func testEveryMessageTypeHasADirection() {
        for type in MessageType.allCases {
            XCTAssertTrue(type.mayTravel(to: .coordinator) || type.mayTravel(to: .worker) || type.mayTravel(to: .parameterServer), "\(type)")
        }
    }
}
