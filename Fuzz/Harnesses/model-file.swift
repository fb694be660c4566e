// A model file as `predict`, `evaluate` and `--init-from` read it (ModelFile.loadModel): a
// safetensors header, dptrain's metadata or a PyTorch nn.Sequential's tensors, the weights.
import Training

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = ScratchFile.write(UnsafeRawBufferPointer(start: data, count: size), name: "model.safetensors")
    _ = decoded { try ModelFile.settings(from: path) }
    guard let model = decoded({ try ModelFile.loadModel(from: path) }) else { return 0 }
    precondition(model.parameters.count == model.spec.parameterCount)
    return 0
}
