/// What a receiver expects of the messages it decodes.
public struct DecodeContext {
    /// Which end is receiving: messages that do not travel towards it are rejected.
    public var receiver: Role
    /// The run this receiver belongs to; 0 accepts any (a worker before its welcome).
    /// A hello with run id 0 (a new worker or parameter server) is accepted by any coordinator.
    public var runID: UInt64
    /// Floats in every step's parameters and every gradient (from the welcome, for a worker).
    public var parameterCount: Int
    /// Samples in the receiving worker's shard: every step index must be below it.
    public var shardCount: Int
    /// How the run's weights travel (from the welcome, for a worker); gradients are Int64 always.
    public var precision: WirePrecision
    /// Where a step's or a gradient's values are when its bulk frame is empty: the sender's
    /// shared-memory segment, which hands out only a whole published step of the right size.
    public var sharedBulk: SharedBulkSource?

    public init(receiver: Role, runID: UInt64 = 0, parameterCount: Int = 0, shardCount: Int = 0, precision: WirePrecision = .float32) {
        self.receiver = receiver
        self.runID = runID
        self.parameterCount = parameterCount
        self.shardCount = shardCount
        self.precision = precision
        sharedBulk = nil
    }
}

/// Decodes and validates one received message (its three frames, without a
/// ROUTER's routing-id frame), in the order Protocol.swift lists; throws the
/// `WireError` of the first check that fails. Shard, step and gradient views
/// point into `frames`, which must outlive them.
///
/// A socket layer that caps the frames it keeps must reject a message it
/// truncated itself: `frames` cannot show what was dropped.
@_specialize(exported: true, where Frames == UnsafeBufferPointer<UnsafeRawBufferPointer>)
public func decode<Frames: Collection>(
    frames: Frames, context: DecodeContext
) throws -> Envelope where Frames.Element == UnsafeRawBufferPointer {
    guard frames.count == framesPerMessage else { throw WireError.frameCount(frames.count) }
    var iterator = frames.makeIterator()
    let headerFrame = iterator.next()!, meta = iterator.next()!, bulk = iterator.next()!

    let header = try Header(parsing: headerFrame)
    let type = header.type
    guard type.mayTravel(to: context.receiver) else {
        throw WireError.wrongDirection(type, receiver: context.receiver)
    }
    let anyRun = context.runID == 0 || ((type == .hello || type == .serverHello) && header.runID == 0)
    guard anyRun || header.runID == context.runID else {
        throw WireError.runMismatch(got: header.runID, expected: context.runID)
    }
    // Both counts are sizes of frames in memory, so their sum cannot overflow.
    guard header.payloadLength == UInt64(meta.count + bulk.count) else {
        throw WireError.payloadLength(header: header.payloadLength, actual: meta.count + bulk.count)
    }

    var reader = ByteReader(meta, of: type)
    let body: Body
    switch type {
    case .hello:
        body = .hello(try decodeHello(&reader))
    case .welcome:
        body = .welcome(try decodeWelcome(&reader))
    case .refuse:
        body = .refuse(try decodeRefusal(&reader))
    case .failure:
        body = .failure(try reader.string("reason", limit: Limits.refuseTextBytes))
    case .shard:
        return Envelope(header: header, body: .shard(try decodeShard(&reader, pixels: bulk)))
    case .step:
        return Envelope(header: header, body: .step(try decodeStep(&reader, bulk: bulk, step: header.step, context: context)))
    case .gradient:
        return Envelope(header: header, body: .gradient(try decodeGradient(&reader, bulk: bulk, step: header.step, context: context)))
    case .heartbeat:
        body = .heartbeat
    case .goodbye:
        body = .goodbye
    case .shutdown:
        body = .shutdown
    case .serverHello:
        body = .serverHello(try decodeServerHello(&reader))
    case .serverWelcome:
        return Envelope(header: header, body: .serverWelcome(try decodeServerWelcome(&reader, bulk: bulk)))
    case .attach:
        body = .attach(try decodeAttach(&reader))
    case .slice:
        return Envelope(header: header, body: .slice(try decodeSlice(&reader, bulk: bulk, context: context)))
    case .weights:
        return Envelope(header: header, body: .weights(try decodeWeights(&reader, bulk: bulk, context: context)))
    case .commit:
        body = .commit(try decodeCommit(&reader))
    case .fetch:
        body = .fetch
    case .memberKeys:
        body = .memberKeys(try decodeMemberKeys(&reader))
    case .rangeState:
        return Envelope(header: header, body: .rangeState(try decodeRangeState(&reader, bulk: bulk)))
    }
    // The remaining types carry no bulk and end where their last field does.
    try reader.finish()
    guard bulk.isEmpty else { throw WireError.unexpectedBulk(type, bytes: bulk.count) }
    return Envelope(header: header, body: body)
}

private func decodeHello(_ reader: inout ByteReader) throws -> Hello {
    let previous = try reader.integer("the previous worker id", as: UInt32.self)
    let host = try reader.string("host", limit: Limits.hostBytes)
    let core = try reader.string("BLAS core", limit: Limits.blasCoreBytes)
    let flags = try reader.integer("the flags", as: UInt8.self)
    let threads = try reader.integer("the thread count", as: UInt16.self)
    guard threads > 0 else { throw WireError.zeroThreads }
    guard threads <= Limits.threads else {
        throw WireError.overLimit(field: "hello threads", value: UInt64(threads), limit: Int(Limits.threads))
    }
    return Hello(previousWorkerID: previous, host: host, blasCore: core, acceptsOtherKernels: flags & 1 != 0, computesBF16: flags & 2 != 0,
                 threads: threads, sharedMemory: try reader.sharedMemoryOffer())
}

private func decodeWelcome(_ reader: inout ByteReader) throws -> Welcome {
    let workerID = try reader.integer("the worker id", as: UInt32.self)
    let length = try reader.integer("the configuration length", as: UInt32.self)
    guard length <= Limits.configurationBytes else {
        throw WireError.overLimit(field: "welcome configuration length", value: UInt64(length),
                                  limit: Limits.configurationBytes)
    }
    let configuration = Array(try reader.bytes(UInt64(length), "the configuration"))
    let parameters = try reader.integer("the parameter count", as: UInt32.self)
    guard parameters <= Limits.parameterCount else {
        throw WireError.overLimit(field: "welcome parameter count", value: UInt64(parameters),
                                  limit: Limits.parameterCount)
    }
    guard parameters > 0 else { throw WireError.zeroParameterCount }
    return Welcome(workerID: workerID, configuration: configuration, parameterCount: Int(parameters),
                   sharedMemory: try reader.sharedMemoryGrant())
}

private func decodeRefusal(_ reader: inout ByteReader) throws -> Refusal {
    let code = try reader.integer("the reason", as: UInt16.self)
    guard let reason = RefuseReason(rawValue: code) else { throw WireError.unknownRefuseReason(code) }
    return Refusal(reason: reason, text: try reader.string("text", limit: Limits.refuseTextBytes))
}

private func decodeShard(_ reader: inout ByteReader, pixels: UnsafeRawBufferPointer) throws -> ShardView {
    let count = try reader.integer("the sample count", as: UInt32.self)
    let features = try reader.integer("the feature count", as: UInt32.self)
    let classes = try reader.integer("the class count", as: UInt32.self)
    guard features >= 1, classes >= 1, classes <= Limits.classCount else {
        throw WireError.shardShape(features: features, classes: classes)
    }
    let typeCode = try reader.integer("the feature type", as: UInt8.self)
    guard let featureType = ShardFeatureType(rawValue: typeCode) else { throw WireError.unknownFeatureType(typeCode) }
    let byteScale = Float(bitPattern: try reader.integer("the byte scale", as: UInt32.self))
    guard byteScale.isFinite, byteScale > 0 else { throw WireError.badByteScale(byteScale) }
    // Two UInt32 factors fit a UInt64, but times a width of 4 they may not: an overflow is a refusal.
    let (pixelBytes, widthOverflow) = (UInt64(count) * UInt64(features)).multipliedReportingOverflow(by: UInt64(featureType.byteWidth))
    let (shardBytes, labelsOverflow) = pixelBytes.addingReportingOverflow(UInt64(count))
    guard !widthOverflow, !labelsOverflow, shardBytes <= Limits.shardBytes else {
        throw WireError.shardTooLarge(count: count, features: features, bytes: widthOverflow || labelsOverflow ? .max : shardBytes)
    }
    let labels = try reader.bytes(UInt64(count), "the labels")
    try reader.finish()
    guard UInt64(pixels.count) == pixelBytes else {
        throw WireError.shardPixels(expected: pixelBytes, actual: pixels.count)
    }
    for (position, label) in labels.enumerated() where UInt32(label) >= classes {
        throw WireError.labelOutOfRange(position: position, label: label, classCount: Int(classes))
    }
    if featureType == .float32, let position = WireArray<Float>(pixels).firstNonFinite() {
        throw WireError.shardFeatureNotFinite(position: position)
    }
    return ShardView(count: Int(count), features: Int(features), classCount: Int(classes), featureType: featureType,
                     byteScale: byteScale, pixels: pixels, labels: labels)
}

private func decodeStep(_ reader: inout ByteReader, bulk: UnsafeRawBufferPointer, step: UInt64,
                        context: DecodeContext) throws -> StepView {
    let epoch = try reader.integer("the epoch", as: UInt32.self)
    let count = try reader.integer("the index count", as: UInt32.self)
    let indices = WireArray<UInt32>(try reader.bytes(UInt64(count) * 4, "the sample indices"))
    let chunkCount = try reader.integer("the chunk count", as: UInt32.self)
    guard chunkCount <= Limits.chunkCount else {
        throw WireError.overLimit(field: "step chunk count", value: UInt64(chunkCount), limit: Limits.chunkCount)
    }
    let chunkSizes = WireArray<UInt32>(try reader.bytes(UInt64(chunkCount) * 4, "the chunk sizes"))
    let chunks = WireArray<UInt32>(try reader.bytes(UInt64(chunkCount) * 4, "the chunk numbers"))
    try reader.finish()
    if let bad = chunks.first(where: { $0 >= Limits.chunkCount }) { throw WireError.badChunk(bad) }
    // Every chunk has samples, and the chunks cover the indices exactly (UInt64: no overflow).
    guard !chunkSizes.contains(0), chunkSizes.reduce(UInt64(0), { $0 + UInt64($1) }) == UInt64(count) else {
        throw WireError.chunksDoNotCover(indices: Int(count), chunks: chunkSizes.map { Int($0) }.prefix(8).map { $0 })
    }
    let bytes = context.parameterCount * context.precision.bytesPerValue
    let parameters = try floats(values(bulk, .step, step: step, bytes: bytes, context), of: .step,
                                expected: context.parameterCount, precision: context.precision)
    for (position, index) in indices.enumerated() where Int(index) >= context.shardCount {
        throw WireError.indexOutOfRange(position: position, index: index, shardCount: context.shardCount)
    }
    // Weights read from the coordinator's segment are not scanned again: only the coordinator
    // writes it (the kernel sees to that: the segment is sealed against every other writer,
    // SharedSegment.swift), after checking that its weights are finite (Coordinator.applyUpdate), so a
    // scan of every weight every step would find nothing, on the step's critical path. Weights
    // that came over the network are scanned, always.
    let fromCoordinatorSegment = bulk.isEmpty && context.sharedBulk != nil
    if !fromCoordinatorSegment, let bad = parameters.firstNonFinite() {
        throw WireError.nonFinite(.step, index: bad, value: parameters[bad])
    }
    return StepView(epoch: epoch, indices: indices, chunkSizes: chunkSizes, chunks: chunks, parameters: parameters)
}

private func decodeGradient(_ reader: inout ByteReader, bulk: UnsafeRawBufferPointer, step: UInt64,
                            context: DecodeContext) throws -> GradientView {
    let samples = try reader.integer("the sample count", as: UInt32.self)
    let loss = try reader.double("the loss sum")
    let nanoseconds = try reader.integer("the compute time", as: UInt64.self)
    let correct = try reader.integer("the correct count", as: UInt32.self)
    guard correct <= samples else { throw WireError.overLimit(field: "correct count", value: UInt64(correct), limit: Int(samples)) }
    let width = Int(try reader.integer("the gradient's bytes per value", as: UInt8.self))
    guard (1...gradientBytesPerValue).contains(width) else {
        throw WireError.overLimit(field: "gradient bytes per value", value: UInt64(width), limit: gradientBytesPerValue)
    }
    try reader.finish()
    guard loss.isFinite else { throw WireError.lossNotFinite(loss) }
    let sums = try values(bulk, .gradient, step: step, bytes: context.parameterCount * width, context)
    guard sums.count % width == 0 else { throw WireError.floatBytes(.gradient, bytes: sums.count) }
    guard sums.count / width == context.parameterCount else {
        throw WireError.parameterCount(.gradient, got: sums.count / width, expected: context.parameterCount)
    }
    return GradientView(sampleCount: samples, lossSum: loss, computeNanoseconds: nanoseconds, correct: correct, sums: sums,
                        valueBytes: width)
}

/// The bulk frame, or when it is empty and the sender's data is in shared memory, the `bytes`
/// the sender published there for `step`: the segment hands them out only when it holds
/// exactly that step's `bytes`, so nothing of another step, or torn, is ever read.
private func values(_ bulk: UnsafeRawBufferPointer, _ type: MessageType, step: UInt64, bytes: Int,
                    _ context: DecodeContext) throws -> UnsafeRawBufferPointer {
    guard bulk.isEmpty, let shared = context.sharedBulk else { return bulk }
    guard let published = shared.bulk(step: step, length: bytes) else { throw WireError.sharedBulkNotPublished(type, step: step) }
    return published
}

/// The bulk frame as `expected` values in `precision`, checking its size only.
private func floats(_ bulk: UnsafeRawBufferPointer, of type: MessageType,
                    expected: Int, precision: WirePrecision) throws -> WireFloats {
    let width = precision.bytesPerValue
    guard bulk.count % width == 0 else { throw WireError.floatBytes(type, bytes: bulk.count) }
    guard bulk.count / width == expected else {
        throw WireError.parameterCount(type, got: bulk.count / width, expected: expected)
    }
    return WireFloats(bulk, precision: precision)
}
