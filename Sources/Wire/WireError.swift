/// Why a received message was rejected: one case per check, each saying in
/// one line what was wrong, for the log line of the dropped message.
public enum WireError: Error, CustomStringConvertible {
    case frameCount(Int)
    case headerSize(Int)
    case badMagic(UInt32)
    case unsupportedVersion(UInt16)
    case unknownType(UInt16)
    /// A message type that does not travel towards this receiver (a worker sent a welcome).
    case wrongDirection(MessageType, receiver: Role)
    case runMismatch(got: UInt64, expected: UInt64)
    /// The header's payload length is not the bytes the meta and bulk frames hold.
    case payloadLength(header: UInt64, actual: Int)
    /// The meta frame ends before `field` does.
    case truncated(MessageType, field: String)
    /// The meta frame goes on after its last field.
    case trailingBytes(MessageType, count: Int)
    /// A bulk frame on a message type that has none.
    case unexpectedBulk(MessageType, bytes: Int)
    /// A length or count over its limit in `Limits`.
    case overLimit(field: String, value: UInt64, limit: Int)
    case invalidUTF8(field: String)
    case unknownRefuseReason(UInt16)
    case zeroParameterCount
    /// A hello that says its worker computes on no thread.
    case zeroThreads
    /// A Float32 frame whose size is not a multiple of 4.
    case floatBytes(MessageType, bytes: Int)
    case parameterCount(MessageType, got: Int, expected: Int)
    case nonFinite(MessageType, index: Int, value: Float)
    /// A shared-memory sender's segment does not hold the step its message names, whole.
    case sharedBulkNotPublished(MessageType, step: UInt64)
    case lossNotFinite(Double)
    case indexOutOfRange(position: Int, index: UInt32, shardCount: Int)
    /// A step's chunk sizes (the first few) do not split its indices into chunks of at least one.
    case chunksDoNotCover(indices: Int, chunks: [Int])
    case labelOutOfRange(position: Int, label: UInt8, classCount: Int)
    case shardShape(features: UInt32, classes: UInt32)
    case shardTooLarge(count: UInt32, features: UInt32, bytes: UInt64)
    case shardPixels(expected: UInt64, actual: Int)
    case unknownFeatureType(UInt8)
    case badByteScale(Float)
    case shardFeatureNotFinite(position: Int)
    /// A chunk number of 256 or more, or named twice.
    case badChunk(UInt32)

    public var description: String {
        switch self {
        case .frameCount(let count):
            "a message has \(framesPerMessage) frames (header, meta, bulk), this one has \(count)"
        case .headerSize(let size):
            "the header frame is \(size) bytes, not \(Limits.headerBytes)"
        case .badMagic(let magic):
            "magic 0x\(String(magic, radix: 16)) is not 0x\(String(protocolMagic, radix: 16)) (\"DPTR\"): not a dptrain message"
        case .unsupportedVersion(let version):
            "protocol version \(version), this build speaks version \(protocolVersion)"
        case .unknownType(let type):
            "unknown message type \(type)"
        case .wrongDirection(let type, let receiver):
            "a \(receiver) does not receive \(type) messages"
        case .runMismatch(let got, let expected):
            "message for run \(got), this is run \(expected)"
        case .payloadLength(let header, let actual):
            "the header says \(header) payload bytes, the meta and bulk frames hold \(actual)"
        case .truncated(let type, let field):
            "\(type) meta ends inside \(field)"
        case .trailingBytes(let type, let count):
            "\(type) meta has \(count) bytes after its last field"
        case .unexpectedBulk(let type, let bytes):
            "\(type) carries \(bytes) bulk bytes, it has none"
        case .overLimit(let field, let value, let limit):
            "\(field) is \(value), over the limit of \(limit)"
        case .invalidUTF8(let field):
            "\(field) is not valid UTF-8"
        case .unknownRefuseReason(let code):
            "unknown refusal reason \(code)"
        case .zeroParameterCount:
            "welcome names a model of 0 parameters"
        case .zeroThreads:
            "a hello says its worker computes on 0 threads; a worker computes on 1 to \(Limits.threads)"
        case .sharedBulkNotPublished(let type, let step):
            "\(type) for step \(step) names shared memory that does not hold that step whole"
        case .floatBytes(let type, let bytes):
            "\(type) bulk frame is \(bytes) bytes, not a whole number of its values (the run's wire precision for weights, the bytes per value its meta names for gradients)"
        case .parameterCount(let type, let got, let expected):
            "\(type) has \(got) values, the run's model has \(expected) parameters"
        case .nonFinite(let type, let index, let value):
            "\(type) float \(index) is \(value)"
        case .lossNotFinite(let loss):
            "gradient loss sum is \(loss)"
        case .indexOutOfRange(let position, let index, let shardCount):
            "step sample index \(position) is \(index), the shard has \(shardCount) samples"
        case .chunksDoNotCover(let indices, let chunks):
            "step chunk sizes \(chunks) do not split its \(indices) sample indices into chunks of at least one"
        case .labelOutOfRange(let position, let label, let classCount):
            "shard label \(position) is \(label), the data has \(classCount) classes"
        case .shardShape(let features, let classes):
            "shard of \(features) features and \(classes) classes: both must be at least 1, classes at most \(Limits.classCount)"
        case .shardTooLarge(let count, let features, let bytes):
            "shard of \(count) samples of \(features) features is \(bytes) bytes, over the limit of \(Limits.shardBytes)"
        case .shardPixels(let expected, let actual):
            "shard pixel frame is \(actual) bytes, its shape needs \(expected)"
        case .unknownFeatureType(let code):
            "shard feature type \(code) is neither 1 (uint8) nor 2 (float32)"
        case .badByteScale(let scale):
            "shard byte scale \(scale) is not a positive finite number"
        case .shardFeatureNotFinite(let position):
            "shard feature \(position) is NaN or infinite"
        case .badChunk(let chunk):
            "chunk number \(chunk) is over \(Limits.chunkCount - 1) or named twice"
        }
    }
}
