import MLP
import XCTest
@testable import Roles
@testable import Wire

/// A parameter server's decisions without sockets: ranges that tile the model, admission, and a
/// range that adds exactly the slices a commit names and steps the optimizer to the bits of the
/// whole vector stepped at once.
final class ParameterServerTests: XCTestCase {
    func testRangesTileTheParametersInOrder() {
        for (count, servers) in [(101_770, 1), (101_770, 2), (101_770, 3), (37, 3), (5, 5), (1000, 64)] {
            let ranges = ParameterServerRoster.ranges(parameterCount: count, servers: servers)
            XCTAssertEqual(ranges.count, servers)
            XCTAssertEqual(ranges.first?.lowerBound, 0)
            XCTAssertEqual(ranges.last?.upperBound, count)
            for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
            XCTAssertTrue(ranges.allSatisfy { !$0.isEmpty }, "\(count) over \(servers): \(ranges)")
            if count >= 16 * servers { XCTAssertTrue(ranges.dropFirst().allSatisfy { $0.lowerBound % 16 == 0 }, "\(ranges)") }
        }
    }

    func testTheFirstKServersAreAdmittedAndWorkersWaitForAll() {
        var roster = ParameterServerRoster(expected: 2, parameterCount: 100)
        XCTAssertFalse(roster.isComplete)
        XCTAssertEqual(roster.receiveHello(ServerHello(endpoint: "tcp://a:1", host: "a"), from: [1], now: 0), .welcome(index: 0))
        // The same connection again: the same range.
        XCTAssertEqual(roster.receiveHello(ServerHello(endpoint: "tcp://a:1", host: "a"), from: [1], now: 1), .welcome(index: 0))
        XCTAssertFalse(roster.isComplete)
        XCTAssertEqual(roster.receiveHello(ServerHello(endpoint: "", host: "b"), from: [2], now: 1),
                       .refuse(.notAuthorised, "a parameter server must say where members reach it (--bind)"))
        XCTAssertEqual(roster.receiveHello(ServerHello(endpoint: "tcp://b:1", host: "b"), from: [2], now: 2), .welcome(index: 1))
        XCTAssertTrue(roster.isComplete)
        guard case .refuse(.runFull, let text) = roster.receiveHello(ServerHello(endpoint: "tcp://c:1", host: "c"), from: [3], now: 3) else {
            return XCTFail("a third server admitted")
        }
        XCTAssertTrue(text.contains("--parameter-servers 3"), text)
        XCTAssertEqual(roster.places.map(\.first), [0, 48])
        XCTAssertEqual(roster.places.map(\.count), [48, 52])
        XCTAssertNil(roster.firstSilent(now: 5_000_000_000, silence: 5_000_000_000))
        XCTAssertEqual(roster.firstSilent(now: 5_000_000_002, silence: 5_000_000_000)?.index, 0)
    }

    /// A hello from a new process at an admitted server's endpoint: that server is gone (two
    /// processes cannot bind one endpoint), and the newcomer takes its place once it is vacant.
    func testANewcomerAtAnAdmittedEndpointReplacesItsServer() {
        var roster = ParameterServerRoster(expected: 2, parameterCount: 100)
        _ = roster.receiveHello(ServerHello(endpoint: "tcp://a:1", host: "a"), from: [1], now: 0)
        _ = roster.receiveHello(ServerHello(endpoint: "tcp://b:1", host: "b"), from: [2], now: 0)
        XCTAssertEqual(roster.receiveHello(ServerHello(endpoint: "tcp://b:1", host: "b again"), from: [3], now: 1), .replaces(index: 1))
        roster.lose(index: 1)
        XCTAssertFalse(roster.isComplete)
        guard case .refuse(.notAuthorised, let text) = roster.receiveHello(ServerHello(endpoint: "tcp://c:1", host: "c"), from: [4], now: 2) else {
            return XCTFail("a server elsewhere took the lost one's place")
        }
        XCTAssertTrue(text.contains("--bind tcp://b:1"), text)
        XCTAssertEqual(roster.receiveHello(ServerHello(endpoint: "tcp://b:1", host: "b again"), from: [3], now: 2), .welcome(index: 1))
        XCTAssertTrue(roster.isComplete)
        XCTAssertEqual(roster.server(index: 1)?.host, "b again")
    }

    /// Two members' exact sums over 37 parameters (ranges of 12, 12, 13: every boundary off the
    /// vector loops' 8), three steps of Adam with weight decay on three servers: the bits of one
    /// optimizer over the whole vector.
    func testRangesUpdatedApartGiveTheWholeVectorsBits() throws {
        let count = 37, format = FixedPointFormat(largestChunk: 64)
        let config = OptimizerConfig(kind: .adam, learningRate: 0.01, weightDecay: 0.1)
        var whole = (0..<count).map { Float($0) / 50 - 0.3 }
        let reference = makeOptimizer(config, parameterCount: count)
        let ranges = ParameterServerRoster.ranges(parameterCount: count, servers: 3)
        let servers = ranges.enumerated().map { index, range in
            ServerRange(index: index, first: range.lowerBound, weights: Array(whole[range]), optimizer: makeOptimizer(config, parameterCount: range.count),
                        format: format, step: 1)
        }
        for step in UInt64(1)...3 {
            // Member 1 computed chunks 0 and 2, member 2 chunk 1.
            let answers = [(UInt32(1), [UInt32(0), 2]), (UInt32(2), [UInt32(1)])]
            var sums: [FixedPointSum] = []
            for (member, _) in answers {
                var sum = FixedPointSum(format: format, count: count)
                let gradient = (0..<count).map { Float(sin(Double($0 * Int(member) + Int(step)))) * 3 }
                XCTAssertTrue(gradient.withUnsafeBufferPointer { sum.add(chunk: $0) })
                sums.append(sum)
            }
            // The whole vector, as the coordinator steps it.
            var total = FixedPointSum(format: format, count: count)
            for sum in sums { sum.values.withUnsafeBytes { total.add(received: $0) } }
            var floats = [Float](repeating: 0, count: count)
            floats.withUnsafeMutableBufferPointer { total.floats(into: $0) }
            whole.withUnsafeMutableBufferPointer { p in floats.withUnsafeBufferPointer { reference.step(parameters: p, gradientSum: $0, sampleCount: 96, learningRate: 0.01) } }

            let commit = Commit(learningRate: 0.01, sampleCount: 96, answers: answers.map { CommittedAnswer(workerID: $0.0, chunks: $0.1) },
                                members: [1, 2], nextStep: step + 1)
            for (server, range) in zip(servers, ranges) {
                // The commit first: it waits for the slices.
                XCTAssertEqual(server.receive(commit, step: step), .waiting)
                XCTAssertTrue(server.isApplying)
                for (index, (member, chunks)) in answers.enumerated() {
                    let width = sums[index].packedWidth(range: range)
                    var packed = [UInt8](repeating: 0, count: range.count * width)
                    packed.withUnsafeMutableBytes { sums[index].pack(range: range, width: width, into: $0) }
                    let outcome = try slice(member, chunks, packed, width) { server.receive($0, step: step) }
                    XCTAssertEqual(outcome, index == answers.count - 1 ? .applied(sendTo: [1, 2]) : .waiting)
                }
                XCTAssertEqual(server.step, step + 1)
            }
            let apart = servers.flatMap(\.weights)
            XCTAssertEqual(apart.map(\.bitPattern), whole.map(\.bitPattern), "step \(step)")
        }
    }

    func testAStaleSliceIsDroppedAndAChunkTwiceStopsTheRange() throws {
        let server = ServerRange(index: 0, first: 0, weights: [1, 2], optimizer: makeOptimizer(OptimizerConfig(kind: .sgd, learningRate: 0.1), parameterCount: 2),
                                 format: FixedPointFormat(largestChunk: 8), step: 5)
        let zeros = [UInt8](repeating: 0, count: 2)
        guard case .dropped(let why) = try slice(1, [0], zeros, 1, { server.receive($0, step: 4) }) else { return XCTFail("a stale slice kept") }
        XCTAssertTrue(why.contains("step 4"), why)
        guard case .dropped = try slice(1, [0], zeros, 1, { server.receive($0, step: 6) }) else { return XCTFail("a slice from an abandoned step kept") }
        XCTAssertEqual(try slice(1, [0], zeros, 1, { server.receive($0, step: 5) }), .waiting)
        XCTAssertEqual(try slice(2, [0], zeros, 1, { server.receive($0, step: 5) }), .waiting)
        let twice = Commit(learningRate: 0.1, sampleCount: 4, answers: [CommittedAnswer(workerID: 1, chunks: [0]), CommittedAnswer(workerID: 2, chunks: [0])],
                           members: [1, 2], nextStep: 6)
        guard case .failed(let reason) = server.receive(twice, step: 5) else { return XCTFail("a chunk counted twice") }
        XCTAssertTrue(reason.contains("chunk 0 twice"), reason)
        // A commit of a step this range has not reached: one was lost.
        guard case .failed = server.receive(Commit(learningRate: 0.1, sampleCount: 0, answers: [], members: [], nextStep: 8), step: 7) else {
            return XCTFail("a commit from the future applied")
        }
    }

    /// Slices are added as they come; one the commit does not name (its member was lost, its chunk
    /// asked of another) and one sent twice leave the total as if only the named ones had come.
    func testASliceAddedButNotCommittedLeavesNoTrace() throws {
        let config = OptimizerConfig(kind: .sgd, learningRate: 0.5)
        let format = FixedPointFormat(largestChunk: 8)
        func range() -> ServerRange {
            ServerRange(index: 0, first: 0, weights: [1, 2, 3], optimizer: makeOptimizer(config, parameterCount: 3), format: format, step: 1)
        }
        // Sums as 8-byte integers large enough to move a weight: 2^44 to 3 x 2^44 units.
        func sums(_ values: [Int64]) -> [UInt8] { values.flatMap { value in withUnsafeBytes(of: (value << 44).littleEndian) { Array($0) } } }
        let one = sums([1, 2, 3]), two = sums([10, 20, 30]), lost = sums([99, 99, 99])
        let commit = Commit(learningRate: 0.5, sampleCount: 8, answers: [CommittedAnswer(workerID: 1, chunks: [0]), CommittedAnswer(workerID: 2, chunks: [1])],
                            members: [1, 2], nextStep: 2)
        let clean = range()
        _ = try slice(1, [0], one, 8) { clean.receive($0, step: 1) }
        _ = try slice(2, [1], two, 8) { clean.receive($0, step: 1) }
        XCTAssertEqual(clean.receive(commit, step: 1), .applied(sendTo: [1, 2]))

        let voided = range()
        _ = try slice(3, [1], lost, 8) { voided.receive($0, step: 1) }
        _ = try slice(1, [0], one, 8) { voided.receive($0, step: 1) }
        _ = try slice(2, [1], two, 8) { voided.receive($0, step: 1) }
        XCTAssertEqual(voided.receive(commit, step: 1), .applied(sendTo: [1, 2]))
        XCTAssertEqual(voided.weights.map(\.bitPattern), clean.weights.map(\.bitPattern))
        let twice = range()
        _ = try slice(1, [0], one, 8) { twice.receive($0, step: 1) }
        _ = try slice(1, [0], one, 8) { twice.receive($0, step: 1) }
        _ = try slice(2, [1], two, 8) { twice.receive($0, step: 1) }
        XCTAssertEqual(twice.receive(commit, step: 1), .applied(sendTo: [1, 2]))
        XCTAssertEqual(twice.weights.map(\.bitPattern), clean.weights.map(\.bitPattern))
        XCTAssertNotEqual(clean.weights, [1, 2, 3])
    }

    /// An abandoned step (no samples): nothing applied, the weights are for the next step.
    func testAnEmptyCommitMovesTheStepOnly() {
        let server = ServerRange(index: 0, first: 0, weights: [1, 2], optimizer: makeOptimizer(OptimizerConfig(kind: .momentum, learningRate: 0.1), parameterCount: 2),
                                 format: FixedPointFormat(largestChunk: 8), step: 5)
        XCTAssertEqual(server.receive(Commit(learningRate: 0.1, sampleCount: 0, answers: [], members: [3], nextStep: 6), step: 5), .applied(sendTo: [3]))
        XCTAssertEqual(server.weights, [1, 2])
        XCTAssertEqual(server.step, 6)
        XCTAssertEqual(server.optimizerState.step, 0)
    }

    /// A slice as the server decodes it from `member`'s message.
    private func slice<R>(_ member: UInt32, _ chunks: [UInt32], _ packed: [UInt8], _ width: Int, _ body: (SliceView) throws -> R) throws -> R {
        var encoder = MessageEncoder()
        try encoder.slice(runID: 1, step: 1, workerID: member, chunks: chunks, count: packed.count / width, valueBytes: width)
        let frames = [encoder.header, encoder.meta, packed]
        let context = DecodeContext(receiver: .parameterServer, runID: 1, parameterCount: packed.count / width)
        return try frames[0].withUnsafeBytes { header in
            try frames[1].withUnsafeBytes { meta in
                try frames[2].withUnsafeBytes { bulk in
                    let envelope = try decode(frames: [header, meta, bulk], context: context)
                    guard case .slice(let view) = envelope.body else { throw WireError.unknownType(0) }
                    return try body(view)
                }
            }
        }
    }
}
