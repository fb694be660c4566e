// A shared-memory segment's header and data as another process on the host could write them:
// the published words a receiver checks (SharedSegment.bulk) and the nonce an opener checks
// (SharedSegment.open), then a step or a gradient whose bulk is in the segment, decoded.
//
// Input: byte 0 chooses the message (bit 0: a step to a worker, else a gradient to the
// coordinator), the precision (bit 1) and a gradient's bytes per value (bits 2-4, plus 1);
// byte 1 the parameter count (1 to 64); 8 bytes the message's step; then the segment's 64-byte
// header as written (sequence, length, nonce, ...), and its data, the rest.
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// One segment for the whole run: large enough for 64 Int64 sums.
let segment = try! SharedSegment.create(dataBytes: 64 * 8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSharedMemory(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let choice = input.byte()
    let parameterCount = Int(input.byte() % 64) + 1
    var step: UInt64 = 0
    withUnsafeMutableBytes(of: &step) { $0.copyMemory(from: input.take(8)) }
    let precision: WirePrecision = choice & 2 == 0 ? .float32 : .bf16
    let width = Int((choice >> 2) & 7) + 1

    // The header and data as written by whoever holds the memory file.
    let whole = UnsafeMutableRawBufferPointer(start: segment.data.baseAddress! - SharedSegment.headerBytes,
                                              count: SharedSegment.headerBytes + segment.dataBytes)
    whole.initializeMemory(as: UInt8.self, repeating: 0)
    let written = input.rest()
    whole.copyMemory(from: UnsafeRawBufferPointer(rebasing: written[0..<min(written.count, whole.count)]))

    // An opener that checks the nonce it was granted.
    if let opened = try? SharedSegment.open(pid: getpid(), fd: segment.descriptor, dataBytes: segment.dataBytes, nonce: segment.nonce,
                                            writing: false) {
        blackHole(UInt64(touch(UnsafeRawBufferPointer(opened.data))))
    }

    var encoder = MessageEncoder()
    var context: DecodeContext
    if choice & 1 == 0 {
        try! encoder.step(runID: 7, step: step, epoch: 0, indices: [0, 1], chunkSizes: [2], parameterCount: parameterCount,
                          precision: precision, bulkInSharedMemory: true)
        context = DecodeContext(receiver: .worker, runID: 7, parameterCount: parameterCount, shardCount: 2, precision: precision)
    } else {
        try! encoder.gradient(runID: 7, step: step, sampleCount: 2, lossSum: 1, computeNanoseconds: 1, parameterCount: parameterCount,
                              precision: precision, bulkInSharedMemory: true, valueBytes: width)
        context = DecodeContext(receiver: .coordinator, runID: 7, parameterCount: parameterCount, precision: precision)
    }
    context.sharedBulk = segment
    encoder.withFrames { frames in
        var copies = ExactFrames()
        for frame in frames { copies.append(frame) }
        defer { copies.release() }
        if let envelope = decoded({ try decode(frames: copies.frames, context: context) }) { consume(envelope) }
    }
    return 0
}
