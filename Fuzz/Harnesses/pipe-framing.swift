// A same-host doorbell's byte stream (Wire.PipeReader), as a member that shares the pipe could
// write it: the bytes arrive in reads of any size, each whole message goes to the decoder.
//
// Input: byte 0 chooses the receiver (bit 0) and the largest read (bits 1-7, times 64, at least
// 1 byte); the rest is the stream.
import Wire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPipeFraming(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let choice = input.byte()
    let context = DecodeContext(receiver: choice & 1 == 0 ? .coordinator : .worker, runID: 0, parameterCount: 8, shardCount: 16)
    let readSize = max(1, Int(choice >> 1) * 64)
    let reader = PipeReader()
    var messages = 0
    while true {
        let piece = input.take(readSize)
        let read = reader.fill { room in
            let count = min(room.count, piece.count)
            if count > 0 { room.copyMemory(from: UnsafeRawBufferPointer(rebasing: piece[0..<count])) }
            return count
        }
        // Bytes the buffer had no room for are lost, as a reader that stops reading would lose them.
        do {
            while let decoded = try reader.next({ frames -> Bool in
                var copies = ExactFrames()
                for frame in frames { copies.append(frame) }
                defer { copies.release() }
                return decoded({ try decode(frames: copies.frames, context: context) }) != nil
            }) {
                messages += decoded ? 1 : 0
            }
        } catch {
            return 0   // out of step with the writer: the stream is dropped
        }
        if read == 0 && input.remaining == 0 { break }
    }
    precondition(reader.pendingBytes <= 2 * PipeFraming.messageBytes)
    return messages > Int.max ? 1 : 0
}
