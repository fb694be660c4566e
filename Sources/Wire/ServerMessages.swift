/// The messages of parameter servers (protocol version 7; layouts in Protocol.swift). A server
/// owns a contiguous range of the parameters: it adds its range of every member's gradient sum
/// (`slice`), steps the optimizer over it when the coordinator says which answers make the step
/// (`commit`), and sends its range of the new weights to every member (`weights`). The
/// coordinator keeps the brain and no parameter-sized message on its step path.

/// A parameter server asks the coordinator for a range.
public struct ServerHello: Equatable, Sendable {
    /// Where members reach the server, e.g. "tcp://10.0.0.2:5600"; at most `Limits.hostBytes`.
    public var endpoint: String
    /// Where it runs, for the logs; at most `Limits.hostBytes`.
    public var host: String
    /// The server's CURVE public key (Z85, 40 characters), which members check; empty without keys.
    public var publicKey: String

    public init(endpoint: String, host: String, publicKey: String = "") {
        self.endpoint = endpoint
        self.host = host
        self.publicKey = publicKey
    }
}

/// The coordinator gives a server its range and the range's state (the header's step is the step
/// the weights are for: the next one to train).
public struct ServerWelcomeView {
    /// This server's place among the run's servers (0-based), and how many there are.
    public let index: Int
    public let serverCount: Int
    /// The range: parameters `first ..< first + count` of the model.
    public let first: Int
    public let count: Int
    /// The run's configuration (JSON by the Training layer), as in a worker's welcome.
    public let configuration: [UInt8]
    /// The optimizer's step count.
    public let optimizerSteps: UInt64
    /// The range's weights, then each optimizer moment over the range: Float32 LE, each finite.
    public let weights: WireArray<Float>
    public let moments: [WireArray<Float>]
}

/// A member's gradient sum over a server's range, naming the chunks it sums (the header's step is
/// the step it answers).
public struct SliceView {
    public let workerID: UInt32
    /// The chunks (shard numbers of the step) the sum covers, each below `Limits.chunkCount`.
    public let chunks: WireArray<UInt32>
    /// The range's sums, `valueBytes` bytes each (sign-extended), as in a gradient.
    public let sums: UnsafeRawBufferPointer
    public let valueBytes: Int
}

/// A server's range of the weights a step is computed on (the header's step).
public struct WeightsView {
    public let first: Int
    public let values: WireFloats
}

/// One answer a step is made of: whose slices, covering which chunks.
public struct CommittedAnswer: Equatable, Sendable {
    public var workerID: UInt32
    public var chunks: [UInt32]

    public init(workerID: UInt32, chunks: [UInt32]) {
        self.workerID = workerID
        self.chunks = chunks
    }
}

/// The coordinator tells every server which answers make step `header.step` and how to apply it.
public struct Commit: Equatable, Sendable {
    public var learningRate: Float
    /// The step's samples, which the sum is divided by; 0: nothing to apply (an abandoned step).
    public var sampleCount: UInt32
    public var answers: [CommittedAnswer]
    /// The members to send the new weights to.
    public var members: [UInt32]
    /// The step the new weights are for.
    public var nextStep: UInt64

    public init(learningRate: Float, sampleCount: UInt32, answers: [CommittedAnswer], members: [UInt32], nextStep: UInt64) {
        self.learningRate = learningRate
        self.sampleCount = sampleCount
        self.answers = answers
        self.members = members
        self.nextStep = nextStep
    }
}

/// A server's range and optimizer state, for the coordinator's checkpoints, evaluation and model
/// file (the header's step is the step the weights are for).
public struct RangeStateView {
    public let index: Int
    public let first: Int
    public let optimizerSteps: UInt64
    public let weights: WireArray<Float>
    public let moments: [WireArray<Float>]
}

/// A set of a step's chunk numbers (each below `Limits.chunkCount`): one bit a chunk, on the
/// stack, for the checks that a chunk is named once, made for every slice and every commit.
public struct ChunkSet {
    private var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    /// Adds `chunk`; false when it was in already, or is not a chunk number.
    public mutating func insert(_ chunk: UInt32) -> Bool {
        guard chunk < Limits.chunkCount else { return false }
        let bit = UInt64(1) << (chunk % 64)
        let had: UInt64
        switch chunk / 64 {
        case 0: had = bits.0; bits.0 |= bit
        case 1: had = bits.1; bits.1 |= bit
        case 2: had = bits.2; bits.2 |= bit
        default: had = bits.3; bits.3 |= bit
        }
        return had & bit == 0
    }
}

/// The most moment vectors an optimizer keeps (Adam: two).
let mostMoments = 2

extension MessageEncoder {
    public mutating func serverHello(_ hello: ServerHello, runID: UInt64 = 0) throws {
        let endpoint = Array(hello.endpoint.utf8), host = Array(hello.host.utf8), key = Array(hello.publicKey.utf8)
        try checkLimit("server hello endpoint length", endpoint.count, Limits.hostBytes)
        try checkLimit("server hello host length", host.count, Limits.hostBytes)
        try checkLimit("server hello key length", key.count, Limits.keyBytes)
        begin()
        meta.appendPrefixed(endpoint)
        meta.appendPrefixed(host)
        meta.appendPrefixed(key)
        finish(.serverHello, runID: runID, step: 0, bulkBytes: 0)
    }

    /// A server's welcome; the bulk is `count * (1 + moments)` Float32 values: the range's
    /// weights, then each moment over the range.
    public mutating func serverWelcome(runID: UInt64, step: UInt64, index: Int, serverCount: Int, first: Int, count: Int,
                                       configuration: [UInt8], optimizerSteps: UInt64, moments: Int) throws {
        try checkRange(first: first, count: count, moments: moments)
        try checkLimit("server welcome configuration length", configuration.count, Limits.configurationBytes)
        try checkLimit("server count", serverCount, Limits.parameterServers)
        guard index < serverCount else {
            throw WireError.overLimit(field: "server index", value: UInt64(max(index, 0)), limit: serverCount - 1)
        }
        begin()
        meta.appendLittleEndian(UInt32(index))
        meta.appendLittleEndian(UInt32(serverCount))
        meta.appendLittleEndian(UInt64(first))
        meta.appendLittleEndian(UInt64(count))
        meta.appendPrefixed(configuration)
        meta.appendLittleEndian(optimizerSteps)
        meta.append(UInt8(moments))
        finish(.serverWelcome, runID: runID, step: step, bulkBytes: count * 4 * (1 + moments))
    }

    /// A member makes itself known to a server, which then sends it the weights.
    public mutating func attach(runID: UInt64, workerID: UInt32) {
        begin()
        meta.appendLittleEndian(workerID)
        finish(.attach, runID: runID, step: 0, bulkBytes: 0)
    }

    /// A member's sum over a server's range of `count` parameters, packed `valueBytes` bytes a value.
    public mutating func slice(runID: UInt64, step: UInt64, workerID: UInt32, chunks: [UInt32], count: Int, valueBytes: Int) throws {
        precondition((1...gradientBytesPerValue).contains(valueBytes), "a gradient value takes 1 to 8 bytes")
        try checkLimit("slice chunk count", chunks.count, Limits.chunkCount)
        try checkLimit("slice parameter count", count, Limits.parameterCount)
        begin()
        meta.appendLittleEndian(workerID)
        meta.appendLittleEndian(UInt32(chunks.count))
        for chunk in chunks { meta.appendLittleEndian(chunk) }
        meta.append(UInt8(valueBytes))
        finish(.slice, runID: runID, step: step, bulkBytes: count * valueBytes)
    }

    /// A server's range of `count` weights from `first`, in `precision`, for step `step`.
    public mutating func weights(runID: UInt64, step: UInt64, first: Int, count: Int, precision: WirePrecision) throws {
        try checkRange(first: first, count: count, moments: 0)
        begin()
        meta.appendLittleEndian(UInt64(first))
        finish(.weights, runID: runID, step: step, bulkBytes: count * precision.bytesPerValue)
    }

    public mutating func commit(_ commit: Commit, runID: UInt64, step: UInt64) throws {
        try checkLimit("commit answer count", commit.answers.count, Limits.chunkCount)
        try checkLimit("commit member count", commit.members.count, Limits.members)
        begin()
        meta.appendLittleEndian(commit.learningRate.bitPattern)
        meta.appendLittleEndian(commit.sampleCount)
        meta.appendLittleEndian(UInt32(commit.answers.count))
        for answer in commit.answers {
            try checkLimit("commit chunk count", answer.chunks.count, Limits.chunkCount)
            meta.appendLittleEndian(answer.workerID)
            meta.appendLittleEndian(UInt32(answer.chunks.count))
            for chunk in answer.chunks { meta.appendLittleEndian(chunk) }
        }
        meta.appendLittleEndian(UInt32(commit.members.count))
        for member in commit.members { meta.appendLittleEndian(member) }
        meta.appendLittleEndian(commit.nextStep)
        finish(.commit, runID: runID, step: step, bulkBytes: 0)
    }

    /// The coordinator asks a server for its range's state.
    public mutating func fetch(runID: UInt64) {
        begin()
        finish(.fetch, runID: runID, step: 0, bulkBytes: 0)
    }

    /// A server's state; the bulk as in its welcome.
    public mutating func rangeState(runID: UInt64, step: UInt64, index: Int, first: Int, count: Int, optimizerSteps: UInt64, moments: Int) throws {
        try checkRange(first: first, count: count, moments: moments)
        begin()
        meta.appendLittleEndian(UInt32(index))
        meta.appendLittleEndian(UInt64(first))
        meta.appendLittleEndian(UInt64(count))
        meta.appendLittleEndian(optimizerSteps)
        meta.append(UInt8(moments))
        finish(.rangeState, runID: runID, step: step, bulkBytes: count * 4 * (1 + moments))
    }

    /// The members a secure server takes: their CURVE public keys.
    public mutating func memberKeys(_ keys: [String], runID: UInt64) throws {
        try checkLimit("member key count", keys.count, Limits.members)
        begin()
        meta.appendLittleEndian(UInt32(keys.count))
        for key in keys {
            let bytes = Array(key.utf8)
            try checkLimit("member key length", bytes.count, Limits.keyBytes)
            meta.appendPrefixed(bytes)
        }
        finish(.memberKeys, runID: runID, step: 0, bulkBytes: 0)
    }

    private func checkRange(first: Int, count: Int, moments: Int) throws {
        try checkLimit("range start", first, Limits.parameterCount)
        try checkLimit("range size", count, Limits.parameterCount - max(first, 0))
        try checkLimit("optimizer moments", moments, mostMoments)
    }
}

// Decoding, called by `decode` for the server types.

func decodeServerHello(_ reader: inout ByteReader) throws -> ServerHello {
    let endpoint = try reader.string("endpoint", limit: Limits.hostBytes)
    let host = try reader.string("host", limit: Limits.hostBytes)
    let key = try reader.string("public key", limit: Limits.keyBytes)
    return ServerHello(endpoint: endpoint, host: host, publicKey: key)
}

/// A range's start and size and its moments, checked against the limits.
private func readRange(_ reader: inout ByteReader) throws -> (first: Int, count: Int) {
    let first = try reader.integer("the range start", as: UInt64.self)
    let count = try reader.integer("the range size", as: UInt64.self)
    guard first <= UInt64(Limits.parameterCount), count <= UInt64(Limits.parameterCount) - first else {
        throw WireError.overLimit(field: "range end", value: first &+ count, limit: Limits.parameterCount)
    }
    return (Int(first), Int(count))
}

/// The bulk as `count` weights then `moments` vectors of `count`, every value finite.
private func rangeFloats(_ bulk: UnsafeRawBufferPointer, _ type: MessageType, count: Int, moments: Int) throws -> (WireArray<Float>, [WireArray<Float>]) {
    guard bulk.count == count * 4 * (1 + moments) else {
        throw WireError.parameterCount(type, got: bulk.count / 4, expected: count * (1 + moments))
    }
    let all = WireArray<Float>(bulk)
    if let bad = all.firstNonFinite() { throw WireError.nonFinite(type, index: bad, value: all[bad]) }
    let part = { (k: Int) in WireArray<Float>(UnsafeRawBufferPointer(rebasing: bulk[(k * count * 4)..<((k + 1) * count * 4)])) }
    return (part(0), (0..<moments).map { part($0 + 1) })
}

func decodeServerWelcome(_ reader: inout ByteReader, bulk: UnsafeRawBufferPointer) throws -> ServerWelcomeView {
    let index = try reader.integer("the server index", as: UInt32.self)
    let servers = try reader.integer("the server count", as: UInt32.self)
    guard servers >= 1, servers <= Limits.parameterServers, index < servers else {
        throw WireError.overLimit(field: "server index", value: UInt64(index), limit: Int(min(servers, UInt32(Limits.parameterServers))) - 1)
    }
    let (first, count) = try readRange(&reader)
    let length = try reader.integer("the configuration length", as: UInt32.self)
    guard length <= Limits.configurationBytes else {
        throw WireError.overLimit(field: "server welcome configuration length", value: UInt64(length), limit: Limits.configurationBytes)
    }
    let configuration = Array(try reader.bytes(UInt64(length), "the configuration"))
    let steps = try reader.integer("the optimizer's steps", as: UInt64.self)
    let moments = Int(try reader.integer("the optimizer's moments", as: UInt8.self))
    guard moments <= mostMoments else { throw WireError.overLimit(field: "optimizer moments", value: UInt64(moments), limit: mostMoments) }
    try reader.finish()
    let (weights, momentArrays) = try rangeFloats(bulk, .serverWelcome, count: count, moments: moments)
    return ServerWelcomeView(index: Int(index), serverCount: Int(servers), first: first, count: count, configuration: configuration,
                             optimizerSteps: steps, weights: weights, moments: momentArrays)
}

func decodeAttach(_ reader: inout ByteReader) throws -> UInt32 {
    try reader.integer("the worker id", as: UInt32.self)
}

/// Chunk numbers: a count, then that many, each below `Limits.chunkCount` and none twice.
private func readChunks(_ reader: inout ByteReader) throws -> WireArray<UInt32> {
    let count = try reader.integer("the chunk count", as: UInt32.self)
    guard count >= 1, count <= Limits.chunkCount else {
        throw WireError.overLimit(field: "chunk count", value: UInt64(count), limit: Limits.chunkCount)
    }
    let chunks = WireArray<UInt32>(try reader.bytes(UInt64(count) * 4, "the chunks"))
    var seen = ChunkSet()
    for chunk in chunks where !seen.insert(chunk) { throw WireError.badChunk(chunk) }
    return chunks
}

func decodeSlice(_ reader: inout ByteReader, bulk: UnsafeRawBufferPointer, context: DecodeContext) throws -> SliceView {
    let worker = try reader.integer("the worker id", as: UInt32.self)
    let chunks = try readChunks(&reader)
    let width = Int(try reader.integer("the slice's bytes per value", as: UInt8.self))
    guard (1...gradientBytesPerValue).contains(width) else {
        throw WireError.overLimit(field: "slice bytes per value", value: UInt64(width), limit: gradientBytesPerValue)
    }
    try reader.finish()
    guard bulk.count % width == 0 else { throw WireError.floatBytes(.slice, bytes: bulk.count) }
    guard bulk.count / width == context.parameterCount else {
        throw WireError.parameterCount(.slice, got: bulk.count / width, expected: context.parameterCount)
    }
    return SliceView(workerID: worker, chunks: chunks, sums: bulk, valueBytes: width)
}

func decodeWeights(_ reader: inout ByteReader, bulk: UnsafeRawBufferPointer, context: DecodeContext) throws -> WeightsView {
    let first = try reader.integer("the range start", as: UInt64.self)
    try reader.finish()
    let width = context.precision.bytesPerValue
    guard bulk.count % width == 0 else { throw WireError.floatBytes(.weights, bytes: bulk.count) }
    let count = bulk.count / width
    guard first <= UInt64(Limits.parameterCount), UInt64(count) <= UInt64(Limits.parameterCount) - first else {
        throw WireError.overLimit(field: "weights range end", value: first &+ UInt64(count), limit: Limits.parameterCount)
    }
    let values = WireFloats(bulk, precision: context.precision)
    if let bad = values.firstNonFinite() { throw WireError.nonFinite(.weights, index: bad, value: values[bad]) }
    return WeightsView(first: Int(first), values: values)
}

func decodeCommit(_ reader: inout ByteReader) throws -> Commit {
    let rate = Float(bitPattern: try reader.integer("the learning rate", as: UInt32.self))
    guard rate.isFinite else { throw WireError.lossNotFinite(Double(rate)) }
    let samples = try reader.integer("the sample count", as: UInt32.self)
    let answerCount = try reader.integer("the answer count", as: UInt32.self)
    guard answerCount <= Limits.chunkCount else {
        throw WireError.overLimit(field: "commit answer count", value: UInt64(answerCount), limit: Limits.chunkCount)
    }
    var answers: [CommittedAnswer] = []
    for _ in 0..<answerCount {
        let worker = try reader.integer("an answer's worker id", as: UInt32.self)
        answers.append(CommittedAnswer(workerID: worker, chunks: Array(try readChunks(&reader))))
    }
    let memberCount = try reader.integer("the member count", as: UInt32.self)
    guard memberCount <= Limits.members else {
        throw WireError.overLimit(field: "commit member count", value: UInt64(memberCount), limit: Limits.members)
    }
    let members = Array(WireArray<UInt32>(try reader.bytes(UInt64(memberCount) * 4, "the members")))
    let next = try reader.integer("the next step", as: UInt64.self)
    return Commit(learningRate: rate, sampleCount: samples, answers: answers, members: members, nextStep: next)
}

func decodeRangeState(_ reader: inout ByteReader, bulk: UnsafeRawBufferPointer) throws -> RangeStateView {
    let index = try reader.integer("the server index", as: UInt32.self)
    guard index < Limits.parameterServers else {
        throw WireError.overLimit(field: "server index", value: UInt64(index), limit: Limits.parameterServers - 1)
    }
    let (first, count) = try readRange(&reader)
    let steps = try reader.integer("the optimizer's steps", as: UInt64.self)
    let moments = Int(try reader.integer("the optimizer's moments", as: UInt8.self))
    guard moments <= mostMoments else { throw WireError.overLimit(field: "optimizer moments", value: UInt64(moments), limit: mostMoments) }
    try reader.finish()
    let (weights, momentArrays) = try rangeFloats(bulk, .rangeState, count: count, moments: moments)
    return RangeStateView(index: Int(index), first: first, optimizerSteps: steps, weights: weights, moments: momentArrays)
}

func decodeMemberKeys(_ reader: inout ByteReader) throws -> [String] {
    let count = try reader.integer("the key count", as: UInt32.self)
    guard count <= Limits.members else { throw WireError.overLimit(field: "member key count", value: UInt64(count), limit: Limits.members) }
    // Each key takes at least its 4-byte length: a count the frame cannot hold is refused before anything is kept.
    guard UInt64(count) * 4 <= UInt64(reader.remaining) else { throw WireError.truncated(.memberKeys, field: "the keys") }
    return try (0..<count).map { _ in try reader.string("a member key", limit: Limits.keyBytes) }
}
