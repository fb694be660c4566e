import Foundation
import MLP

/// A trained model in the safetensors format: an 8-byte little-endian header
/// length, a JSON header, then the tensors' bytes. dptrain writes one F32
/// tensor per weight ("layers.L.weight", shape [fan_in, fan_out]) and bias
/// ("layers.L.bias", [fan_out]), in the order of its flat parameter buffer, so
/// the data section is that buffer as it is. The header's __metadata__ holds
/// the layer sizes and activations that rebuild the model.
public enum ModelFile {
    public static let formatName = "dptrain"

    public static func save(spec: ModelSpec, parameters: [Float], to path: String) throws {
        precondition(parameters.count == spec.parameterCount)
        var header = "{\"__metadata__\":{"
        header += metadata(spec).map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",")
        header += "}"
        for (l, layer) in ParameterLayout(spec).layers.enumerated() {
            header += tensorEntry("layers.\(l).weight", shape: [layer.fanIn, layer.fanOut], floatOffset: layer.weightOffset, count: layer.weightCount)
            if let bias = layer.biasOffset {
                header += tensorEntry("layers.\(l).bias", shape: [layer.fanOut], floatOffset: bias, count: layer.fanOut)
            }
        }
        header += "}"
        // The data section starts 8-byte aligned, as the format recommends.
        while (header.utf8.count % 8) != 0 { header += " " }

        var bytes = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header.utf8)
        parameters.withUnsafeBytes { bytes.append(contentsOf: $0) }  // Float is little-endian on every Linux target we run on
        do {
            try bytes.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ModelFileError(path: path, reason: "cannot write it; check that its folder exists and is writable")
        }
    }

    public static func load(from path: String) throws -> (spec: ModelSpec, parameters: [Float]) {
        func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: reason) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail(FileManager.default.fileExists(atPath: path) ? "cannot be read; check its permissions" : "no such file")
        }
        guard data.count >= 8 else { throw fail("only \(data.count) bytes: not a safetensors model file") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength > 1, headerLength <= UInt64(min(data.count - 8, 100 << 20)) else {
            throw fail("its header length \(headerLength) does not fit a \(data.count)-byte file: not a safetensors model file, or truncated")
        }
        let headerEnd = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data[8..<headerEnd]) as? [String: Any] else {
            throw fail("its header is not JSON: not a safetensors model file")
        }
        guard let meta = header["__metadata__"] as? [String: String], meta["format"] == formatName else {
            throw fail("it is a safetensors file but not a dptrain model (no \"format\": \"dptrain\" in its metadata)")
        }
        guard let sizesText = meta["layers"],
              case let sizes = sizesText.split(separator: ",").compactMap({ Int($0) }),
              sizes.count == sizesText.split(separator: ",").count,
              let activation = meta["hidden_activation"].flatMap(Activation.init(rawValue:)),
              let loss = meta["loss"].flatMap(Loss.init(rawValue:)),
              let bias = meta["bias"].flatMap(Bool.init) else {
            throw fail("its metadata lacks the layer sizes, activation, loss or bias setting")
        }
        let spec = ModelSpec(layerSizes: sizes, hiddenActivation: activation, loss: loss, useBias: bias)
        guard spec.problems.isEmpty, sizes.allSatisfy({ $0 <= 1 << 16 }) else {
            throw fail("its layer sizes \(sizesText) do not make a model")
        }
        for (l, layer) in ParameterLayout(spec).layers.enumerated() {
            try checkEntry(header["layers.\(l).weight"], name: "layers.\(l).weight", shape: [layer.fanIn, layer.fanOut],
                           floatOffset: layer.weightOffset, count: layer.weightCount, fail: fail)
            if let biasOffset = layer.biasOffset {
                try checkEntry(header["layers.\(l).bias"], name: "layers.\(l).bias", shape: [layer.fanOut],
                               floatOffset: biasOffset, count: layer.fanOut, fail: fail)
            }
        }
        let expectedBytes = spec.parameterCount * MemoryLayout<Float>.size
        guard data.count - headerEnd == expectedBytes else {
            throw fail("it holds \(data.count - headerEnd) bytes of tensors, the model needs \(expectedBytes): the file is truncated or corrupt")
        }
        var parameters = [Float](repeating: 0, count: spec.parameterCount)
        parameters.withUnsafeMutableBytes { target in data.copyBytes(to: target, from: headerEnd..<data.count) }
        guard parameters.allSatisfy({ $0.isFinite }) else { throw fail("it holds NaN or infinite weights") }
        return (spec, parameters)
    }

    static func metadata(_ spec: ModelSpec) -> [(String, String)] {
        [("format", formatName), ("format_version", "1"),
         ("layers", spec.layerSizes.map(String.init).joined(separator: ",")),
         ("hidden_activation", spec.hiddenActivation.rawValue),
         ("output_activation", spec.loss == .crossEntropy ? "softmax" : "sigmoid"),
         ("loss", spec.loss.rawValue), ("bias", String(spec.useBias)),
         ("weight_layout", "fan_in,fan_out")]
    }

    static func tensorEntry(_ name: String, shape: [Int], floatOffset: Int, count: Int) -> String {
        let begin = floatOffset * 4, end = (floatOffset + count) * 4
        return ",\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(end)]}"
    }

    static func checkEntry(_ entry: Any?, name: String, shape: [Int], floatOffset: Int, count: Int,
                           fail: (String) -> ModelFileError) throws {
        guard let entry = entry as? [String: Any], entry["dtype"] as? String == "F32",
              (entry["shape"] as? [Int]) == shape,
              (entry["data_offsets"] as? [Int]) == [floatOffset * 4, (floatOffset + count) * 4] else {
            throw fail("tensor \(name) is missing or is not F32 of shape \(shape) where the metadata's layers put it")
        }
    }
}

public struct ModelFileError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
