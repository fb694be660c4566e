/// Builds the header and meta frames of one message at a time, in buffers
/// reused from message to message; the bulk frame is the caller's own memory:
///
///     try encoder.step(runID: run, step: s, epoch: e, indices: batch, parameterCount: p.count)
///     try parameters.withUnsafeBytes { bulk in
///         try encoder.withFrames(bulk: bulk) { try socket.send($0) }
///     }
///
/// It checks the same limits the receiver does, so that what it builds is accepted.
public struct MessageEncoder {
    public private(set) var header = [UInt8](repeating: 0, count: Limits.headerBytes)
    public internal(set) var meta: [UInt8] = []
    /// The bulk frame's size, in bytes, that the last message announced.
    public private(set) var bulkBytes = 0
    /// The type of the message last built.
    public private(set) var type: MessageType?

    public init() {}

    public mutating func hello(_ hello: Hello, runID: UInt64 = 0) throws {
        let host = Array(hello.host.utf8)
        try checkLimit("hello host length", host.count, Limits.hostBytes)
        let core = Array(hello.blasCore.utf8)
        try checkLimit("hello BLAS core length", core.count, Limits.blasCoreBytes)
        begin()
        meta.appendLittleEndian(hello.previousWorkerID)
        meta.appendPrefixed(host)
        meta.appendPrefixed(core)
        meta.appendLittleEndian(UInt8(hello.acceptsOtherKernels ? 1 : 0) | (hello.computesBF16 ? 2 : 0))
        guard hello.threads > 0 else { throw WireError.zeroThreads }
        guard hello.threads <= Limits.threads else {
            throw WireError.overLimit(field: "hello threads", value: UInt64(hello.threads), limit: Int(Limits.threads))
        }
        meta.appendLittleEndian(hello.threads)
        if let offer = hello.sharedMemory {
            try checkLimit("hello host identity length", offer.hostIdentity.utf8.count, Limits.hostBytes)
            meta.append(offer)
        }
        finish(.hello, runID: runID, step: 0, bulkBytes: 0)
    }

    public mutating func welcome(_ welcome: Welcome, runID: UInt64) throws {
        try checkLimit("welcome configuration length", welcome.configuration.count, Limits.configurationBytes)
        try checkLimit("welcome parameter count", welcome.parameterCount, Limits.parameterCount)
        guard welcome.parameterCount > 0 else { throw WireError.zeroParameterCount }
        begin()
        meta.appendLittleEndian(welcome.workerID)
        meta.appendPrefixed(welcome.configuration)
        meta.appendLittleEndian(UInt32(welcome.parameterCount))
        if let grant = welcome.sharedMemory { meta.append(grant) }
        finish(.welcome, runID: runID, step: 0, bulkBytes: 0)
    }

    /// A refusal, in a header of `version`: another than this build's only to answer a hello of
    /// that version (a refusal's layout is every version's, see Protocol.swift).
    public mutating func refuse(_ refusal: Refusal, runID: UInt64, version: UInt16 = protocolVersion) throws {
        let text = Array(refusal.text.utf8)
        try checkLimit("refuse text length", text.count, Limits.refuseTextBytes)
        begin()
        meta.appendLittleEndian(refusal.reason.rawValue)
        meta.appendPrefixed(text)
        finish(.refuse, runID: runID, step: 0, bulkBytes: 0, version: version)
    }

    /// What a coordinator says to a worker of protocol version `version`.
    public static func otherVersionText(workerVersion version: UInt16) -> String {
        "this coordinator speaks dptrain protocol version \(protocolVersion) and this worker version \(version): "
            + "they are different releases; run the same dptrain release on every machine"
    }

    /// A worker's report that it cannot go on with the run.
    public mutating func failure(_ reason: String, runID: UInt64, step: UInt64) throws {
        let text = Array(reason.utf8.prefix(Limits.refuseTextBytes))
        begin()
        meta.appendPrefixed(text)
        finish(.failure, runID: runID, step: step, bulkBytes: 0)
    }

    /// A shard of `labels.count` samples; the bulk is their `count * features` values of `featureType`.
    public mutating func shard(runID: UInt64, features: Int, classCount: Int, featureType: ShardFeatureType = .uint8,
                               byteScale: Float = 1 / 255, labels: [UInt8]) throws {
        guard features >= 1, features <= UInt32.max, classCount >= 1, classCount <= Limits.classCount else {
            throw WireError.shardShape(features: UInt32(clamping: features), classes: UInt32(clamping: classCount))
        }
        let (pixelBytes, overflow) = labels.count.multipliedReportingOverflow(by: features * featureType.byteWidth)
        guard !overflow, pixelBytes + labels.count <= Limits.shardBytes else {
            throw WireError.shardTooLarge(count: UInt32(clamping: labels.count), features: UInt32(features),
                                          bytes: UInt64(clamping: pixelBytes))
        }
        for (position, label) in labels.enumerated() where Int(label) >= classCount {
            throw WireError.labelOutOfRange(position: position, label: label, classCount: classCount)
        }
        begin()
        meta.appendLittleEndian(UInt32(labels.count))
        meta.appendLittleEndian(UInt32(features))
        meta.appendLittleEndian(UInt32(classCount))
        meta.append(featureType.rawValue)
        meta.appendLittleEndian(byteScale.bitPattern)
        meta.append(contentsOf: labels)
        finish(.shard, runID: runID, step: 0, bulkBytes: pixelBytes)
    }

    /// A step; the bulk is the `parameterCount` parameters in `precision`. `indices` are the
    /// samples of the step's chunks, chunk after chunk, `chunkSizes` the samples of each.
    ///
    /// Concrete arrays rather than generic collections: a generic method called from another
    /// module runs unspecialised, boxing every index in an allocation.
    public mutating func step(
        runID: UInt64, step: UInt64, epoch: UInt32, indices: [UInt32], chunkSizes: [UInt32], chunks: [UInt32]? = nil, parameterCount: Int,
        precision: WirePrecision = .float32, bulkInSharedMemory: Bool = false
    ) throws {
        try checkLimit("step parameter count", parameterCount, Limits.parameterCount)
        try checkLimit("step index count", indices.count, Int(UInt32.max))
        try checkLimit("step chunk count", chunkSizes.count, Limits.chunkCount)
        precondition(chunks == nil || chunks!.count == chunkSizes.count, "a chunk number for each chunk")
        begin()
        meta.appendLittleEndian(epoch)
        meta.appendLittleEndian(UInt32(indices.count))
        for index in indices { meta.appendLittleEndian(index) }
        meta.appendLittleEndian(UInt32(chunkSizes.count))
        for size in chunkSizes { meta.appendLittleEndian(size) }
        // Which of the step's chunks these are (their shards): what a member's slices name.
        if let chunks {
            for chunk in chunks { meta.appendLittleEndian(chunk) }
        } else {
            for chunk in 0..<UInt32(chunkSizes.count) { meta.appendLittleEndian(chunk) }
        }
        finish(.step, runID: runID, step: step, bulkBytes: bulkInSharedMemory ? 0 : parameterCount * precision.bytesPerValue)
    }

    /// A step whose samples are one chunk.
    public mutating func step(runID: UInt64, step: UInt64, epoch: UInt32, indices: [UInt32], parameterCount: Int,
                              precision: WirePrecision = .float32) throws {
        try self.step(runID: runID, step: step, epoch: epoch, indices: indices, chunkSizes: [UInt32(indices.count)],
                      parameterCount: parameterCount, precision: precision)
    }

    /// A gradient; the bulk is the `parameterCount` fixed-point gradient sums, each as its low
    /// `valueBytes` bytes (8: the whole Int64), whatever the run's wire precision (which is the
    /// weights' alone).
    public mutating func gradient(
        runID: UInt64, step: UInt64, sampleCount: UInt32, lossSum: Double, computeNanoseconds: UInt64,
        parameterCount: Int, precision: WirePrecision = .float32, bulkInSharedMemory: Bool = false, correct: UInt32 = 0,
        valueBytes: Int = gradientBytesPerValue
    ) throws {
        precondition((1...gradientBytesPerValue).contains(valueBytes), "a gradient value takes 1 to 8 bytes")
        try checkLimit("gradient parameter count", parameterCount, Limits.parameterCount)
        guard lossSum.isFinite else { throw WireError.lossNotFinite(lossSum) }
        begin()
        meta.appendLittleEndian(sampleCount)
        meta.appendLittleEndian(lossSum)
        meta.appendLittleEndian(computeNanoseconds)
        meta.appendLittleEndian(min(correct, sampleCount))
        meta.append(UInt8(valueBytes))
        finish(.gradient, runID: runID, step: step, bulkBytes: bulkInSharedMemory ? 0 : parameterCount * valueBytes)
    }

    /// heartbeat, goodbye or shutdown: a header and two empty frames.
    public mutating func signal(_ type: MessageType, runID: UInt64, step: UInt64 = 0) {
        switch type {
        case .heartbeat, .goodbye, .shutdown: break
        default: preconditionFailure("\(type) has contents: use its own method")
        }
        begin()
        finish(type, runID: runID, step: step, bulkBytes: 0)
    }

    /// Calls `body` with the three frames (header, meta, bulk) to send, the
    /// bulk being the caller's memory. It must be as long as the message announced.
    public func withFrames<R>(
        bulk: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        _ body: ([UnsafeRawBufferPointer]) throws -> R
    ) rethrows -> R {
        precondition(bulk.count == bulkBytes, "the \(type.map(String.init(describing:)) ?? "unbuilt") message announced \(bulkBytes) bulk bytes, got \(bulk.count)")
        return try header.withUnsafeBytes { header in
            try meta.withUnsafeBytes { meta in try body([header, meta, bulk]) }
        }
    }

    /// Calls `body` with the header and meta frames alone, for a sender that
    /// supplies the bulk frame (`bulkBytes` long) from a buffer of its own.
    public func withHeaderAndMeta<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try header.withUnsafeBytes { header in
            try meta.withUnsafeBytes { meta in try body(header, meta) }
        }
    }

    /// Calls `body` with the header, meta and bulk frames, as `withFrames` does but with no array.
    public func withFrames<R>(
        bulk: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        precondition(bulk.count == bulkBytes, "the \(type.map(String.init(describing:)) ?? "unbuilt") message announced \(bulkBytes) bulk bytes, got \(bulk.count)")
        return try withHeaderAndMeta { header, meta in try body(header, meta, bulk) }
    }

    func checkLimit(_ field: String, _ value: Int, _ limit: Int) throws {
        // A negative count is as wrong as a huge one, and would wrap in the header's UInt64.
        if value < 0 || value > limit {
            throw WireError.overLimit(field: field, value: UInt64(truncatingIfNeeded: value), limit: limit)
        }
    }

    mutating func begin() {
        meta.removeAll(keepingCapacity: true)
    }

    mutating func finish(_ type: MessageType, runID: UInt64, step: UInt64, bulkBytes: Int, version: UInt16 = protocolVersion) {
        self.bulkBytes = bulkBytes
        self.type = type
        let length = UInt64(meta.count) + UInt64(bulkBytes)
        header.withUnsafeMutableBytes {
            Header(type: type, runID: runID, step: step, payloadLength: length, version: version).write(to: $0)
        }
    }
}
