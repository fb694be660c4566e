import Dataset
import Foundation
import MLP
import OutputFiles

/// A trained model in the safetensors format: an 8-byte little-endian header
/// length, a JSON header, then the tensors' bytes. dptrain writes one F32
/// tensor per weight ("layers.L.weight", shape [fan_in, fan_out]) and bias
/// ("layers.L.bias", [fan_out]), in the order of its flat parameter buffer, so
/// the data section is that buffer as it is. The header's __metadata__ holds
/// the layer sizes and activations that rebuild the model, and the input
/// scaling (pixels / 255) that anyone feeding it images must apply; a model trained with
/// another normalisation names it ("normalize") and holds its "input.offset" and "input.factor"
/// tensors ([fan_in]: x' = (x - offset) * factor) after the parameters. Loading
/// takes the tensors in any order and any valid header layout, as other tools
/// write them. A model saved by a run that stopped before its end (a signal) says
/// so: "steps_done" of "steps_planned" in the metadata, which `evaluate` reports.
public enum ModelFile {
    public static let formatName = "dptrain"

    /// How far the run that saved a model got, when it stopped before its end.
    public struct Partial: Equatable, Sendable, CustomStringConvertible {
        public var stepsDone: Int
        public var stepsPlanned: Int
        public init(stepsDone: Int, stepsPlanned: Int) {
            self.stepsDone = stepsDone
            self.stepsPlanned = stepsPlanned
        }
        public var description: String { "partial: trained \(stepsDone) of \(stepsPlanned) steps before its run was stopped" }
    }

    /// Writes the model: beside `path`, synced, then renamed over it (`OutputFile`), so that a full
    /// disk leaves the file that was there whole. Throws `FileError`, which names the errno.
    /// `settings`, the run's flags as run-file keys and values (`dptrain config --from` prints them),
    /// go in the metadata as `dptrain_settings`, a JSON array of [key, value] pairs in their order.
    public static func save(spec: ModelSpec, parameters: [Float], normalization: Normalization = .pixelScale, to path: String,
                            partial: Partial? = nil, settings: [(String, String)] = []) throws {
        precondition(parameters.count == spec.parameterCount)
        var entries = metadata(spec, normalization, partial: partial)
        if !settings.isEmpty {
            entries.append((settingsKey, JSONValue.array(settings.map { .array([.string($0.0), .string($0.1)]) }).json))
        }
        var header = "{\"__metadata__\":{"
        header += entries.map { JSONValue.quoted($0.0) + ":" + JSONValue.quoted($0.1) }.joined(separator: ",")
        header += "}"
        for tensor in tensors(spec) + inputTensors(spec, normalization) {
            header += tensorEntry(tensor.name, shape: tensor.shape, floatOffset: tensor.floatOffset, count: tensor.count)
        }
        header += "}"
        // The data section starts 8-byte aligned, as the format recommends.
        while (header.utf8.count % 8) != 0 { header += " " }

        var bytes = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header.utf8)
        parameters.withUnsafeBytes { bytes.append(contentsOf: $0) }  // Float is little-endian on every Linux target we run on
        if !normalization.isPixelScale {
            let stored = normalization.perFeature(spec.inputSize)
            stored.offsets.withUnsafeBytes { bytes.append(contentsOf: $0) }
            stored.factors.withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        try bytes.withUnsafeBytes { try OutputFile.write($0, to: path) }
    }

    public static let settingsKey = "dptrain_settings"

    /// The run settings a model was saved with; nil for a model saved without them.
    public static func settings(from path: String) throws -> [(String, String)]? {
        let (_, header, _) = try header(of: path)
        guard let text = (header["__metadata__"] as? [String: String])?[settingsKey] else { return nil }
        guard let pairs = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String]], pairs.allSatisfy({ $0.count == 2 }) else {
            throw ModelFileError(path: path, reason: "its \(settingsKey) metadata is not a list of [key, value] pairs")
        }
        return pairs.map { ($0[0], $0[1]) }
    }

    public static func load(from path: String) throws -> (spec: ModelSpec, parameters: [Float]) {
        let model = try read(from: path)
        return (model.spec, model.parameters)
    }

    /// The model, and how far its run got when it was saved before its end.
    public static func read(from path: String) throws -> (spec: ModelSpec, parameters: [Float], partial: Partial?) {
        let model = try loadModel(from: path)
        return (model.spec, model.parameters, model.partial)
    }

    /// The model, the normalisation its inputs need, and how far its run got. A file without
    /// dptrain's metadata is read as a PyTorch nn.Sequential's state_dict (`SequentialModelFile`)
    /// with `activation` between its layers, and inputs as dptrain gives them by default (pixels / 255).
    public static func loadModel(from path: String, activation: Activation = .relu) throws
        -> (spec: ModelSpec, parameters: [Float], normalization: Normalization, partial: Partial?) {
        func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: reason) }
        let (data, header, headerEnd) = try header(of: path)
        guard let meta = header["__metadata__"] as? [String: String], meta["format"] == formatName else {
            if let sequential = try SequentialModelFile.load(header: header, data: data, headerEnd: headerEnd, activation: activation, fail: fail) {
                return (sequential.spec, sequential.parameters, .pixelScale, nil)
            }
            throw fail("it is a safetensors file without dptrain's metadata (format, layers, hidden_activation, loss, bias); "
                       + "a tool that re-saves it must keep the metadata, as Python's safetensors does when given metadata=")
        }
        let spec = try spec(from: meta, fail: fail)
        let dataSection = data[headerEnd...]
        var parameters = [Float](repeating: 0, count: spec.parameterCount)
        // Each tensor is found by its name, wherever the file puts it: other tools order them otherwise.
        try parameters.withUnsafeMutableBytes { target in
            for tensor in tensors(spec) {
                let range = try byteRange(of: tensor, in: header, dataLength: dataSection.count, fail: fail)
                let base = dataSection.startIndex
                data.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: target[(tensor.floatOffset * 4)...]),
                               from: (base + range.lowerBound)..<(base + range.upperBound))
            }
        }
        if let bad = parameters.firstIndex(where: { !$0.isFinite }) {
            let tensor = tensors(spec).last { $0.floatOffset <= bad }!
            throw fail("tensor \(tensor.name) holds NaN or infinite weights")
        }
        let partial = meta["steps_done"].flatMap(Int.init).flatMap { done in
            meta["steps_planned"].flatMap(Int.init).map { Partial(stepsDone: done, stepsPlanned: $0) }
        }
        return (spec, parameters, try normalization(meta: meta, spec: spec, header: header, data: data, headerEnd: headerEnd, fail: fail), partial)
    }

    /// The model's input normalisation: pixels / 255 when the metadata names none (every model
    /// from before dptrain stored it).
    static func normalization(meta: [String: String], spec: ModelSpec, header: [String: Any], data: Data, headerEnd: Int,
                              fail: (String) -> ModelFileError) throws -> Normalization {
        guard let name = meta["normalize"], name != "pixels" else { return .pixelScale }
        guard let mode = NormalizeMode(rawValue: name) else { throw fail("its metadata's normalize \(name) is not none, scale or standardize") }
        var values = [Float](repeating: 0, count: 2 * spec.inputSize)
        try values.withUnsafeMutableBytes { target in
            for tensor in inputTensors(spec, Normalization(mode: mode, offsets: [0], factors: [0])) {
                let range = try byteRange(of: tensor, in: header, dataLength: data.count - headerEnd, fail: fail)
                data.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: target[((tensor.floatOffset - spec.parameterCount) * 4)...]),
                               from: (headerEnd + range.lowerBound)..<(headerEnd + range.upperBound))
            }
        }
        guard values.allSatisfy(\.isFinite) else { throw fail("its input normalisation holds NaN or infinite values") }
        return Normalization(mode: mode, offsets: Array(values[..<spec.inputSize]), factors: Array(values[spec.inputSize...]))
    }

    /// The normalisation's two tensors, after the parameters; none for the pixel scale.
    static func inputTensors(_ spec: ModelSpec, _ normalization: Normalization) -> [(name: String, shape: [Int], floatOffset: Int, count: Int)] {
        guard !normalization.isPixelScale else { return [] }
        return [("input.offset", [spec.inputSize], spec.parameterCount, spec.inputSize),
                ("input.factor", [spec.inputSize], spec.parameterCount + spec.inputSize, spec.inputSize)]
    }

    /// The file's bytes, its JSON header and where the header ends.
    static func header(of path: String) throws -> (data: Data, header: [String: Any], headerEnd: Int) {
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
        return (data, header, headerEnd)
    }

    /// The model that the metadata describes; names each key that is missing or wrong.
    static func spec(from meta: [String: String], fail: (String) -> ModelFileError) throws -> ModelSpec {
        let sizesText = meta["layers"] ?? ""
        let sizes = sizesText.split(separator: ",").compactMap { Int($0) }
        let activation = meta["hidden_activation"].flatMap(Activation.init(rawValue:))
        let loss = meta["loss"].flatMap(Loss.init(rawValue:))
        let bias = meta["bias"].flatMap(Bool.init)
        var wrong: [String] = []
        if sizes.count != sizesText.split(separator: ",").count || sizes.count < 2 { wrong.append("layers") }
        if activation == nil { wrong.append("hidden_activation") }
        if loss == nil { wrong.append("loss") }
        if bias == nil { wrong.append("bias") }
        guard wrong.isEmpty, let activation, let loss, let bias else {
            throw fail("its metadata lacks or garbles \(wrong.joined(separator: ", "))")
        }
        let spec = ModelSpec(layerSizes: sizes, hiddenActivation: activation, loss: loss, useBias: bias)
        guard spec.problems.isEmpty, sizes.allSatisfy({ $0 <= 1 << 16 }) else {
            throw fail("its layer sizes \(sizesText) do not make a model")
        }
        return spec
    }

    /// The tensors of `spec`'s flat parameter buffer, in its order.
    static func tensors(_ spec: ModelSpec) -> [(name: String, shape: [Int], floatOffset: Int, count: Int)] {
        ParameterLayout(spec).layers.enumerated().flatMap { l, layer in
            [("layers.\(l).weight", [layer.fanIn, layer.fanOut], layer.weightOffset, layer.weightCount)]
                + (layer.biasOffset.map { [("layers.\(l).bias", [layer.fanOut], $0, layer.fanOut)] } ?? [])
        }
    }

    static func metadata(_ spec: ModelSpec, _ normalization: Normalization = .pixelScale, partial: Partial? = nil) -> [(String, String)] {
        let scaling = normalization.isPixelScale ? [("input_scaling", "pixels / 255")]
            : [("input_scaling", "(x - input.offset) * input.factor"), ("normalize", normalization.mode.rawValue)]
        let progress = partial.map { [("partial", "true"), ("steps_done", String($0.stepsDone)), ("steps_planned", String($0.stepsPlanned))] } ?? []
        return [("format", formatName), ("format_version", "1"),
         ("layers", spec.layerSizes.map(String.init).joined(separator: ",")),
         ("hidden_activation", spec.hiddenActivation.rawValue),
         ("output_activation", spec.loss == .crossEntropy ? "softmax" : "sigmoid"),
         ("loss", spec.loss.rawValue), ("bias", String(spec.useBias)),
         ("weight_layout", "fan_in,fan_out")] + scaling + progress
    }

    static func tensorEntry(_ name: String, shape: [Int], floatOffset: Int, count: Int) -> String {
        let begin = floatOffset * 4, end = (floatOffset + count) * 4
        return ",\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(end)]}"
    }

    /// Where `tensor`'s bytes are in the data section, checked against the header's entry for it.
    static func byteRange(of tensor: (name: String, shape: [Int], floatOffset: Int, count: Int), in header: [String: Any],
                          dataLength: Int, fail: (String) -> ModelFileError) throws -> Range<Int> {
        guard let entry = header[tensor.name] as? [String: Any] else { throw fail("tensor \(tensor.name) is missing") }
        guard let dtype = entry["dtype"] as? String, dtype == "F32" else {
            throw fail("tensor \(tensor.name) is \(entry["dtype"] ?? "of no dtype"), not F32")
        }
        guard let shape = entry["shape"] as? [Int], shape == tensor.shape else {
            throw fail("tensor \(tensor.name) has shape \((entry["shape"] as? [Int]).map { "\($0)" } ?? "none"), but the metadata's layers make it \(tensor.shape)")
        }
        guard let offsets = entry["data_offsets"] as? [Int], offsets.count == 2,
              offsets[0] >= 0, offsets[1] - offsets[0] == tensor.count * 4 else {
            throw fail("tensor \(tensor.name) has data_offsets \((entry["data_offsets"] as? [Int]).map { "\($0)" } ?? "none"), which do not span its \(tensor.count * 4) bytes")
        }
        guard offsets[1] <= dataLength else {
            throw fail("tensor \(tensor.name) ends at byte \(offsets[1]) of a \(dataLength)-byte data section: the file is truncated")
        }
        return offsets[0]..<offsets[1]
    }
}

public struct ModelFileError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}
