// A checkpoint file as `--resume` reads it (CheckpointStore.load): its header, its JSON state,
// the consistency of that state, and the weights and moments after it. The harness appends
// the CRC-32 the file must end with, so that the fuzzer explores what the checksum guards.
import CZlib
import Training

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    let crc = UInt32(crc32(0, data, uInt(size)))
    withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
    let path = bytes.withUnsafeBytes { ScratchFile.write($0, name: "checkpoint-0000000001.dpck") }
    guard let checkpoint = decoded({ try CheckpointStore.load(path: path) }) else { return 0 }
    precondition(checkpoint.parameters.count == checkpoint.state.training.model.parameterCount)
    return 0
}
