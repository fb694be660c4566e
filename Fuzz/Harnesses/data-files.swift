// A data file of the user's own, as `--data FILE` reads it by its extension (DataFile.load):
// safetensors (a JSON header and tensors), .npz (a zip of .npy arrays, stored or deflated)
// and CSV.
//
// Input: byte 0 chooses the format (0: safetensors, 1: npz, 2: csv); the rest is the file.
import Dataset

let extensions = ["safetensors", "npz", "csv"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDataFiles(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let format = extensions[Int(input.byte()) % extensions.count]
    let path = ScratchFile.write(input.rest(), name: "data.\(format)")
    guard let file = decoded({ try DataFile.load(path: path) }) else { return 0 }
    let train = file.train
    precondition(train.labels.count == train.count && train.labels.allSatisfy { Int($0) < train.classCount })
    if let test = file.test { precondition(test.featureCount == train.featureCount) }
    return 0
}
