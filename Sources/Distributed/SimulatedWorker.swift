import Foundation
import MLP
import Roles
import Wire
import ZMQ

/// A stand-in worker for measuring what the coordinator alone can carry: it joins like a
/// worker, over its own socket, and answers every step at once with a gradient stored at
/// its welcome, computing nothing and checking nothing but the header. Only for
/// `dptrain bench --simulated-workers`: the coordinator it talks to is the real one.
public final class SimulatedWorker {
    private let socket: Socket
    private let message = Message(maxFrames: framesPerMessage)
    private var encoder = MessageEncoder()
    private var runID: UInt64 = 0
    private var parameterCount = 0
    /// The stored gradient: fixed-point sums of a converging run's size on the run's grid,
    /// packed as a real worker packs them, in its slot or over its socket (5 bytes a value on
    /// the fine grid, 2 on a bf16 run's). Packed once, at the welcome: the coordinator's cost
    /// is what is measured, not the workers'.
    private var packed: [UInt8] = []
    private var packedWidth = gradientBytesPerValue
    private let giveUpAfterSeconds: Double
    private let offersSharedMemory: Bool
    /// The segments, when the coordinator granted shared memory: the stored gradient is written
    /// into the slot once, and each step only publishes it anew.
    private var shared: WorkerSharedMemory?
    /// The doorbell that comes with shared memory: steps and answers over pipes, as a real
    /// worker on the coordinator's host takes them.
    private var doorbell: Doorbell?

    public init(endpoint: String, context: Context, sharedMemory: Bool, giveUpAfterSeconds: Double = 60) throws {
        self.giveUpAfterSeconds = giveUpAfterSeconds
        offersSharedMemory = sharedMemory && !SharedSegment.hostIdentity.isEmpty
        socket = try Socket(context, .dealer)
        try socket.set(.maxMessageSize, Limits.messageBytes)
        try socket.useLargeKernelBuffers(messageBytes: 4 << 20)
        try socket.connect(endpoint)
    }

    /// Joins and answers steps until the coordinator says training is done.
    public func run() throws {
        var lastHeard = DispatchTime.now().uptimeNanoseconds
        var lastHello: UInt64 = 0
        var items = [PollItem(socket)]
        while true {
            if let bell = doorbell, items.count == 1 { items.append(PollItem(descriptor: bell.readDescriptor)) }
            let now = DispatchTime.now().uptimeNanoseconds
            if Double(now - lastHeard) / 1e9 > giveUpAfterSeconds {
                throw WorkerError.coordinatorSilent(endpoint: (try? socket.lastEndpoint()) ?? "?", seconds: giveUpAfterSeconds)
            }
            if runID == 0, now - lastHello > 1_000_000_000 {
                let offer = offersSharedMemory ? SharedMemoryOffer(hostIdentity: SharedSegment.hostIdentity) : nil
                try encoder.hello(Hello(host: "simulated worker", blasCore: BLAS.coreName, sharedMemory: offer))
                _ = try encoder.withFrames { try socket.send($0, .dontWait) }
                lastHello = now
            }
            guard try poll(&items, timeoutMilliseconds: 100) > 0 else { continue }
            if let bell = doorbell, items.count > 1, !items[1].ready.isEmpty {
                lastHeard = DispatchTime.now().uptimeNanoseconds
                guard bell.receive() == .open else { throw WorkerError.sharedMemory("the bench's coordinator closed its doorbell") }
                while try bell.reader.next({ try handle(frames: $0) }) != nil {}
            }
            while try socket.receive(into: message, .dontWait) {
                lastHeard = DispatchTime.now().uptimeNanoseconds
                guard !message.isTruncated, message.count == framesPerMessage else { continue }
                if try !handle(frames: message) { return }
            }
        }
    }

    /// Handles one message, from the socket or the doorbell; false when training is over.
    private func handle<Frames: Collection>(frames message: Frames) throws -> Bool where Frames.Element == UnsafeRawBufferPointer {
        guard message.count == framesPerMessage, let header = try? Header(parsing: message.first!) else { return true }
        let meta = message[message.index(after: message.startIndex)]
        switch header.type {
        case .welcome:
            guard runID == 0, case .welcome(let welcome) = try decode(frames: message, context: DecodeContext(receiver: .worker)).body else { return true }
            let configuration = try RunConfiguration.decode(welcome.configuration, parameterCount: welcome.parameterCount)
            runID = header.runID
            parameterCount = welcome.parameterCount
            let training = configuration.training
            let gradient = Self.storedGradient(count: parameterCount, chunk: training.largestChunk,
                                               format: training.fixedPointFormat(for: configuration.precision))
            shared = try welcome.sharedMemory.map {
                try WorkerSharedMemory($0, weightBytes: parameterCount * configuration.precision.bytesPerValue,
                                       gradientBytes: parameterCount * gradientBytesPerValue)
            }
            doorbell = try welcome.sharedMemory.map {
                try Doorbell.openForWorker(pid: Int32(bitPattern: $0.pid), stepPipe: Int32(bitPattern: $0.stepPipeDescriptor),
                                           answerPipe: Int32(bitPattern: $0.answerPipeDescriptor))
            }
            packedWidth = gradient.packedWidth
            if shared != nil {
                _ = shared?.publish(gradient, width: packedWidth, step: 0)
            } else {
                packed = [UInt8](repeating: 0, count: parameterCount * packedWidth)
                packed.withUnsafeMutableBytes { gradient.pack(width: packedWidth, into: $0) }
            }
        case .step:
            guard header.runID == runID, meta.count >= 8 else { return true }
            let samples = UInt32(littleEndian: meta.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            shared?.slot.publish(sequence: header.step, length: parameterCount * packedWidth)
            try encoder.gradient(runID: runID, step: header.step, sampleCount: samples, lossSum: Double(samples),
                                 computeNanoseconds: 0, parameterCount: parameterCount, bulkInSharedMemory: shared != nil,
                                 valueBytes: packedWidth)
            // Through the doorbell when there is one, as a real worker answers; the socket if the pipe is full.
            if let bell = doorbell, encoder.withHeaderAndMeta({ bell.send(header: $0, meta: $1) }) == .sent { return true }
            _ = try (shared == nil ? packed : []).withUnsafeBytes { bulk in
                try encoder.withFrames(bulk: bulk) { try socket.send($0, $1, $2, .dontWait) }
            }
        case .heartbeat:
            encoder.signal(.heartbeat, runID: runID)
            _ = try encoder.withFrames { try socket.send($0, .dontWait) }
        case .shutdown:
            encoder.signal(.goodbye, runID: runID)
            _ = try encoder.withFrames { try socket.send($0, .dontWait) }
            return false
        case .refuse:
            if case .refuse(let refusal) = try decode(frames: message, context: DecodeContext(receiver: .worker)).body {
                throw WorkerError.refused(endpoint: "the bench's coordinator", reason: refusal.text)
            }
        default:
            break
        }
        return true
    }

    /// Sums of a converging run's size on `format`'s grid, for chunks of `chunk` samples: values
    /// up to chunk/8 in magnitude (a real run's sums of 128 samples stay under 32, which is what
    /// makes them 5 bytes on the fine grid), small enough that the coordinator's weights stay
    /// finite however long it runs.
    public static func storedGradient(count: Int, chunk: Int, format: FixedPointFormat) -> FixedPointSum {
        var sum = FixedPointSum(format: format, count: count)
        let floats = (0..<count).map { Float(($0 % 17) - 8) * Float(chunk) / 64 }
        _ = floats.withUnsafeBufferPointer { sum.add(chunk: $0) }
        return sum
    }
}
