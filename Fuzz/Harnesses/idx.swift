// An IDX file (MNIST's format), raw or gzipped, as `--data FOLDER` reads it (IDXFile): the
// gzip stream inflated within the size its header promises, the header checked against the file.
//
// Input: byte 0 chooses the dimensions expected (bit 0: 3, an images file; else 1, labels);
// the rest is the file.
import Dataset

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let dimensions = input.byte() & 1 == 1 ? 3 : 1
    let path = ScratchFile.write(input.rest(), name: "train-images-idx3-ubyte.gz")
    guard let file = decoded({ try IDXFile(path: path, expectedDimensionCount: dimensions) }) else { return 0 }
    precondition(file.dimensions.count == dimensions && file.bytes.count == file.dimensions.reduce(1, *))
    return 0
}
