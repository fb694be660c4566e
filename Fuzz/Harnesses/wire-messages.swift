// Every message a peer can send, through the one decoder both roles use (Wire.decode).
//
// Input: byte 0 chooses the receiver (bit 0: coordinator or worker; bit 4: a parameter server
// instead), the weights' precision (bit 1), whether the
// receiver already has a run id (bit 2) and whether the header's version is set to this build's
// (bit 3: the seeds keep working when the protocol's version rises); byte 1 the parameter count
// (1 to 64), byte 2 the shard's sample count; then the header and meta frames, each a u16
// length and its bytes, and the bulk frame, the rest. Each frame is copied into an allocation of its exact size.
import Wire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWireMessages(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let choice = input.byte()
    var context = DecodeContext(receiver: choice & 16 != 0 ? .parameterServer : choice & 1 == 0 ? .coordinator : .worker,
                                runID: choice & 4 == 0 ? 0 : 0x5EED,
                                parameterCount: Int(input.byte() % 64) + 1, shardCount: Int(input.byte()),
                                precision: choice & 2 == 0 ? .float32 : .bf16)
    context.sharedBulk = nil
    var frames = ExactFrames()
    var header = [UInt8](input.take(input.uint16()))
    if choice & 8 != 0, header.count >= 6 { withUnsafeBytes(of: protocolVersion.littleEndian) { header.replaceSubrange(4..<6, with: $0) } }
    header.withUnsafeBytes { frames.append($0) }
    frames.append(input.take(input.uint16()))
    frames.append(input.rest())
    defer { frames.release() }
    guard let envelope = decoded({ try decode(frames: frames.frames, context: context) }) else { return 0 }
    consume(envelope)
    return 0
}
