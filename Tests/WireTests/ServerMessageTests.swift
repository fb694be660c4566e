import XCTest
@testable import Wire

/// The parameter servers' messages: each built, sent and read back as it left; each hostile
/// variant refused before a value is read.
final class ServerMessageTests: XCTestCase {
    let run: UInt64 = 0x5E4F_E400
    lazy var toServer = DecodeContext(receiver: .parameterServer, runID: run, parameterCount: 3)
    lazy var toCoordinator = DecodeContext(receiver: .coordinator, runID: run)
    lazy var toWorker = DecodeContext(receiver: .worker, runID: run)

    func testServerHelloTravelsToAnyCoordinatorAsAHelloDoes() throws {
        let frames = try encode { try $0.serverHello(ServerHello(endpoint: "tcp://10.0.0.2:5600", host: "node2 pid 7", publicKey: "")) }
        try decoding(frames, toCoordinator) { envelope in
            guard case .serverHello(let hello) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(hello, ServerHello(endpoint: "tcp://10.0.0.2:5600", host: "node2 pid 7"))
        }
        assertRejects(frames, toServer) { if case .wrongDirection(.serverHello, .parameterServer) = $0 { true } else { false } }
    }

    func testAServerWelcomeCarriesTheRangeAndItsMoments() throws {
        let values: [Float] = [1, 2, 3, 0.1, 0.2, 0.3, 10, 20, 30]
        let frames = try encode(bulk: bytes(of: values)) {
            try $0.serverWelcome(runID: run, step: 41, index: 1, serverCount: 3, first: 100, count: 3, configuration: Array("{}".utf8),
                                 optimizerSteps: 40, moments: 2)
        }
        try decoding(frames, toServer) { envelope in
            guard case .serverWelcome(let welcome) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(envelope.step, 41)
            XCTAssertEqual([welcome.index, welcome.serverCount, welcome.first, welcome.count], [1, 3, 100, 3])
            XCTAssertEqual(welcome.optimizerSteps, 40)
            XCTAssertEqual(Array(welcome.weights), [1, 2, 3])
            XCTAssertEqual(welcome.moments.map { Array($0) }, [[0.1, 0.2, 0.3], [10, 20, 30]])
        }
        // A bulk one value short, and a NaN moment.
        var short = frames
        short[2].removeLast(4)
        short[0].put(UInt64(short[1].count + short[2].count), at: 24)
        assertRejects(short, toServer) { if case .parameterCount(.serverWelcome, _, 9) = $0 { true } else { false } }
        var nan = frames
        nan[2].replaceSubrange(16..<20, with: bytes(of: [Float.nan]))
        assertRejects(nan, toServer) { if case .nonFinite(.serverWelcome, 4, _) = $0 { true } else { false } }
    }

    func testASliceNamesItsChunksAndCarriesTheRangesSums() throws {
        let sums: [UInt8] = [1, 0, 2, 0, 0xFF, 0xFF]
        let frames = try encode(bulk: sums) { try $0.slice(runID: run, step: 7, workerID: 4, chunks: [3, 0, 255], count: 3, valueBytes: 2) }
        try decoding(frames, toServer) { envelope in
            guard case .slice(let slice) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(slice.workerID, 4)
            XCTAssertEqual(Array(slice.chunks), [3, 0, 255])
            XCTAssertEqual(slice.valueBytes, 2)
            XCTAssertEqual(Array(slice.sums), sums)
        }
        // Another range's size, a chunk named twice, a chunk number of 256.
        var context = toServer
        context.parameterCount = 4
        assertRejects(frames, context) { if case .parameterCount(.slice, 3, 4) = $0 { true } else { false } }
        let twice = try encode(bulk: sums) { try $0.slice(runID: run, step: 7, workerID: 4, chunks: [3, 3], count: 3, valueBytes: 2) }
        assertRejects(twice, toServer) { if case .badChunk(3) = $0 { true } else { false } }
        let over = try encode(bulk: sums) { try $0.slice(runID: run, step: 7, workerID: 4, chunks: [256], count: 3, valueBytes: 2) }
        assertRejects(over, toServer) { if case .badChunk(256) = $0 { true } else { false } }
        assertRejects(frames, toWorker) { if case .wrongDirection(.slice, .worker) = $0 { true } else { false } }
    }

    func testWeightsArriveInTheRunsPrecision() throws {
        let frames = try encode(bulk: bytes(of: [0.5, -1.5])) { try $0.weights(runID: run, step: 12, first: 64, count: 2, precision: .float32) }
        try decoding(frames, toWorker) { envelope in
            guard case .weights(let weights) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(envelope.step, 12)
            XCTAssertEqual(weights.first, 64)
            XCTAssertEqual(weights.values.count, 2)
            XCTAssertEqual(weights.values[1], -1.5)
        }
        let infinite = try encode(bulk: bytes(of: [0.5, .infinity])) { try $0.weights(runID: run, step: 12, first: 64, count: 2, precision: .float32) }
        assertRejects(infinite, toWorker) { if case .nonFinite(.weights, 1, _) = $0 { true } else { false } }
        assertRejects(frames, toCoordinator) { if case .wrongDirection(.weights, .coordinator) = $0 { true } else { false } }
        // A range start near UInt64.max (a hostile server; found by the fuzzer): refused, not a trap.
        var far = frames
        far[1].put(UInt64.max - 1, at: 0)
        assertRejects(far, toWorker) { if case .overLimit(field: "weights range end", _, _) = $0 { true } else { false } }
    }

    func testACommitRoundTrips() throws {
        let commit = Commit(learningRate: 0.05, sampleCount: 256, answers: [CommittedAnswer(workerID: 1, chunks: [0, 1]), CommittedAnswer(workerID: 3, chunks: [2])],
                            members: [1, 3, 4], nextStep: 10)
        let frames = try encode { try $0.commit(commit, runID: run, step: 9) }
        try decoding(frames, toServer) { envelope in
            guard case .commit(let decoded) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(decoded, commit)
            XCTAssertEqual(envelope.step, 9)
        }
        var nan = frames
        nan[1].put(Float.nan.bitPattern, at: 0)
        assertRejects(nan, toServer) { if case .lossNotFinite = $0 { true } else { false } }
    }

    func testARangeStateTravelsToTheCoordinator() throws {
        let frames = try encode(bulk: bytes(of: [1, 2, 3, 4])) { try $0.rangeState(runID: run, step: 5, index: 0, first: 0, count: 2, optimizerSteps: 4, moments: 1) }
        try decoding(frames, toCoordinator) { envelope in
            guard case .rangeState(let state) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(Array(state.weights), [1, 2])
            XCTAssertEqual(state.moments.map { Array($0) }, [[3, 4]])
            XCTAssertEqual(state.optimizerSteps, 4)
        }
        // A range past the largest model.
        var past = frames
        past[1].put(UInt64(Limits.parameterCount), at: 4)
        assertRejects(past, toCoordinator) { if case .overLimit = $0 { true } else { false } }
    }

    func testAStepNamesItsChunks() throws {
        var context = toWorker
        context.shardCount = 10
        let frames = try encode { try $0.step(runID: run, step: 3, epoch: 1, indices: [1, 2, 3], chunkSizes: [2, 1], chunks: [5, 7], parameterCount: 0) }
        try decoding(frames, context) { envelope in
            guard case .step(let step) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual(Array(step.chunks), [5, 7])
            XCTAssertEqual(step.parameters.count, 0)
        }
    }
}
