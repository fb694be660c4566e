import Foundation
import MLP

/// A model saved from a PyTorch `nn.Sequential` of `Linear` layers and activations:
/// `save_file(model.state_dict(), path)` writes "0.weight" (out, in), "0.bias" (out), "2.weight", ...
/// (the activations, holding no weights, take the odd numbers). The layer sizes come from the
/// shapes; the hidden activation, which the file does not hold, from the caller (--activation).
/// Loaded into dptrain's flat buffer, each weight transposed to (fan_in, fan_out).
enum SequentialModelFile {
    typealias Tensor = (shape: [Int], range: Range<Int>)

    /// The model in `header`'s tensors, or nil when they are not a Sequential's weights and biases.
    static func load(header: [String: Any], data: Data, headerEnd: Int, activation: Activation,
                     fail: (String) -> ModelFileError) throws -> (spec: ModelSpec, parameters: [Float])? {
        // Keys PREFIX.N.weight / PREFIX.N.bias, ordered by N.
        var weights: [(index: Int, name: String)] = []
        for name in header.keys where name.hasSuffix(".weight") {
            guard let index = name.dropLast(".weight".count).split(separator: ".").last.flatMap({ Int($0) }) else { return nil }
            weights.append((index, name))
        }
        guard !weights.isEmpty else { return nil }
        weights.sort { $0.index < $1.index }
        // Linear layers numbered 0, 1, 2 have no activation between them: dptrain's own names
        // ("layers.L.weight", stripped of their metadata), not a Sequential's.
        if weights.count > 1 && weights.map(\.index) == Array(0..<weights.count) { return nil }
        func tensor(_ name: String) throws -> Tensor? {
            guard let entry = header[name] as? [String: Any] else { return nil }
            guard entry["dtype"] as? String == "F32" else {
                throw fail("tensor \(name) is \(entry["dtype"] ?? "of no dtype"), not F32; save the model in float32 (model.float())")
            }
            guard let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2,
                  offsets[0] >= 0, offsets[1] == offsets[0] + shape.reduce(4, *), headerEnd + offsets[1] <= data.count else {
                throw fail("tensor \(name)'s shape and data_offsets do not fit the file: it is truncated or damaged")
            }
            return (shape, (headerEnd + offsets[0])..<(headerEnd + offsets[1]))
        }
        var layers: [(weight: Tensor, bias: Tensor?)] = []
        for (_, name) in weights {
            guard let weight = try tensor(name), weight.shape.count == 2 else {
                throw fail("tensor \(name) is not a Linear layer's (out, in) weight matrix: dptrain reads an nn.Sequential of Linear layers and activations")
            }
            layers.append((weight, try tensor(String(name.dropLast("weight".count)) + "bias")))
        }
        var sizes = [layers[0].weight.shape[1]]
        for (l, layer) in layers.enumerated() {
            guard layer.weight.shape[1] == sizes.last! else {
                throw fail("tensor \(weights[l].name) takes \(layer.weight.shape[1]) inputs but the layer before gives \(sizes.last!): the layers do not chain")
            }
            sizes.append(layer.weight.shape[0])
        }
        let useBias = layers[0].bias != nil
        guard layers.allSatisfy({ ($0.bias != nil) == useBias && ($0.bias?.shape ?? [$0.weight.shape[0]]) == [$0.weight.shape[0]] }) else {
            throw fail("some Linear layers have biases and some do not, or a bias does not match its layer; dptrain's layers all have one or none")
        }
        let spec = ModelSpec(layerSizes: sizes, hiddenActivation: activation, loss: .crossEntropy, useBias: useBias)
        guard spec.problems.isEmpty else { throw fail("its layer sizes \(sizes) do not make a model") }

        var parameters = [Float](repeating: 0, count: spec.parameterCount)
        data.withUnsafeBytes { raw in
            for (layer, place) in zip(layers, ParameterLayout(spec).layers) {
                // PyTorch's (out, in) to dptrain's (in, out).
                for o in 0..<place.fanOut {
                    for i in 0..<place.fanIn {
                        let at = layer.weight.range.lowerBound + 4 * (o * place.fanIn + i)
                        parameters[place.weightOffset + i * place.fanOut + o] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    }
                }
                if let bias = layer.bias, let offset = place.biasOffset {
                    for o in 0..<place.fanOut {
                        parameters[offset + o] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: bias.range.lowerBound + 4 * o, as: UInt32.self)))
                    }
                }
            }
        }
        if let bad = parameters.firstIndex(where: { !$0.isFinite }) {
            throw fail("parameter \(bad) is NaN or infinite")
        }
        return (spec, parameters)
    }
}
