import Dataset
import Foundation
import MLP
import XCTest
import Plan
@testable import Training

final class ModelFileTests: XCTestCase {
    let path = NSTemporaryDirectory() + "dptrain-model-\(UUID().uuidString).safetensors"
    override func tearDown() { try? FileManager.default.removeItem(atPath: path) }

    func testRoundTripKeepsSpecAndWeights() throws {
        for spec in [ModelSpec(layerSizes: [784, 128, 10]),
                     ModelSpec(layerSizes: [20, 7, 5, 3], hiddenActivation: .tanh, loss: .mse, useBias: false)] {
            let parameters = spec.initialParameters(.xavier, seed: 4)
            try ModelFile.save(spec: spec, parameters: parameters, to: path)
            let loaded = try ModelFile.load(from: path)
            XCTAssertEqual(loaded.spec, spec)
            XCTAssertEqual(loaded.parameters, parameters)
        }
    }

    /// The header is what safetensors readers expect: a length, JSON, 8-byte aligned data.
    func testHeaderIsSafetensors() throws {
        let spec = ModelSpec(layerSizes: [4, 3, 2])
        try ModelFile.save(spec: spec, parameters: spec.initialParameters(.he, seed: 1), to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = Int(data[0]) | Int(data[1]) << 8 | Int(data[2]) << 16 | Int(data[3]) << 24
        XCTAssertEqual((8 + length) % 8, 0)
        let header = try JSONSerialization.jsonObject(with: data[8..<(8 + length)]) as! [String: Any]
        let weight = header["layers.0.weight"] as! [String: Any]
        XCTAssertEqual(weight["dtype"] as? String, "F32")
        XCTAssertEqual(weight["shape"] as? [Int], [4, 3])
        XCTAssertEqual(weight["data_offsets"] as? [Int], [0, 48])
        XCTAssertEqual((header["__metadata__"] as? [String: String])?["layers"], "4,3,2")
        XCTAssertEqual(data.count, 8 + length + spec.parameterCount * 4)
    }

    func testRefusesFilesThatAreNotOurs() throws {
        func refusal(_ bytes: [UInt8]) -> String? {
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do { _ = try ModelFile.load(from: path); return nil } catch { return "\(error)" }
        }
        XCTAssertNotNil(refusal([]))
        XCTAssertNotNil(refusal([UInt8](repeating: 0xFF, count: 64)))
        let foreign = Array("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}".utf8)
        var bytes = [UInt8(foreign.count), 0, 0, 0, 0, 0, 0, 0] + foreign + [0, 0, 0, 0]
        XCTAssertTrue(refusal(bytes)?.contains("without dptrain's metadata") ?? false)

        let spec = ModelSpec(layerSizes: [4, 3, 2])
        try ModelFile.save(spec: spec, parameters: spec.initialParameters(.he, seed: 1), to: path)
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertTrue(refusal(Array(bytes.dropLast(4)))?.contains("truncated") ?? false)
        XCTAssertTrue(refusal([UInt8](repeating: 0, count: 3))?.contains(path) ?? false)
        try? FileManager.default.removeItem(atPath: path)
        XCTAssertTrue((try? ModelFile.load(from: path)) == nil)
    }

    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var values: [Float]
    }

    /// A safetensors file as another tool may write it: `entries` in the given order, each with its
    /// own data offsets, the header padded with `padding` spaces, `metadata` first.
    func writeForeign(metadata: [String: String], entries: [Entry],
                      padding: Int = 0) throws {
        var header = "{\"__metadata__\":" + String(decoding: try JSONSerialization.data(withJSONObject: metadata), as: UTF8.self)
        var body = Data()
        for entry in entries {
            let begin = body.count
            entry.values.withUnsafeBytes { body.append(contentsOf: $0) }
            header += ", \"\(entry.name)\": {\"dtype\": \"\(entry.dtype)\", \"shape\": \(entry.shape), \"data_offsets\": [\(begin), \(body.count)]}"
        }
        header += "}" + String(repeating: " ", count: padding)
        var file = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { file.append(contentsOf: $0) }
        file.append(contentsOf: header.utf8)
        file.append(body)
        try file.write(to: URL(fileURLWithPath: path))
    }

    func testAnyTensorOrderAndHeaderLayoutLoads() throws {
        let spec = ModelSpec(layerSizes: [4, 3, 2])
        let parameters = spec.initialParameters(.he, seed: 3)
        let layout = ParameterLayout(spec)
        func slice(_ offset: Int, _ count: Int) -> [Float] { Array(parameters[offset..<(offset + count)]) }
        let entries = ModelFile.tensors(spec).map { Entry(name: $0.name, dtype: "F32", shape: $0.shape, values: slice($0.floatOffset, $0.count)) }
        XCTAssertEqual(layout.layers.count, 2)
        // Python's safetensors sorts by name, so each bias comes before its weight; it pads with spaces.
        try writeForeign(metadata: Dictionary(uniqueKeysWithValues: ModelFile.metadata(spec)),
                         entries: entries.sorted { $0.name < $1.name }.reversed(), padding: 5)
        let loaded = try ModelFile.load(from: path)
        XCTAssertEqual(loaded.spec, spec)
        XCTAssertEqual(loaded.parameters, parameters)
    }

    func testRefusalsNameWhatIsWrong() throws {
        let spec = ModelSpec(layerSizes: [4, 3, 2])
        let metadata = Dictionary(uniqueKeysWithValues: ModelFile.metadata(spec))
        let good = ModelFile.tensors(spec).map { Entry(name: $0.name, dtype: "F32", shape: $0.shape, values: [Float](repeating: 0.5, count: $0.count)) }
        func refusal(metadata: [String: String] = metadata, _ edit: (inout [Entry]) -> Void) throws -> String {
            var entries = good
            edit(&entries)
            try writeForeign(metadata: metadata, entries: entries)
            do { _ = try ModelFile.load(from: path); return "loaded" } catch { return "\(error)".replacingOccurrences(of: path + ": ", with: "") }
        }
        XCTAssertEqual(try refusal { $0.remove(at: 1) }, "tensor layers.0.bias is missing")
        XCTAssertEqual(try refusal { $0[2].dtype = "F16" }, "tensor layers.1.weight is F16, not F32")
        XCTAssertEqual(try refusal { $0[0].shape = [3, 4] },
                       "tensor layers.0.weight has shape [3, 4], but the metadata's layers make it [4, 3]")
        XCTAssertEqual(try refusal { $0[3].values = [1, .nan] }, "tensor layers.1.bias holds NaN or infinite weights")
        var noLoss = metadata
        noLoss["loss"] = "hinge"
        noLoss["bias"] = nil
        XCTAssertEqual(try refusal(metadata: noLoss) { _ in }, "its metadata lacks or garbles loss, bias")
        XCTAssertTrue(try refusal(metadata: [:]) { _ in }.hasPrefix("it is a safetensors file without dptrain's metadata"))
        XCTAssertEqual(try refusal { _ in }, "loaded")
    }

    /// A model trained on standardised features carries the normalisation, so `evaluate` applies it;
    /// a model of MNIST's default pixels / 255 is the file dptrain always wrote.
    func testNormalisationTravelsInTheModel() throws {
        let spec = ModelSpec(layerSizes: [3, 4, 2])
        let parameters = spec.initialParameters(.he, seed: 1)
        let standardize = Normalization(mode: .standardize, offsets: [1, 2, 3], factors: [0.5, 0.25, 2])
        try ModelFile.save(spec: spec, parameters: parameters, normalization: standardize, to: path)
        let loaded = try ModelFile.loadModel(from: path)
        XCTAssertEqual(loaded.parameters, parameters)
        XCTAssertEqual(loaded.normalization, standardize)

        let digits = Normalization(byteScale: 1 / 16)
        try ModelFile.save(spec: spec, parameters: parameters, normalization: digits, to: path)
        XCTAssertEqual(try ModelFile.loadModel(from: path).normalization,
                       Normalization(mode: .scale, offsets: [0, 0, 0], factors: [1 / 16, 1 / 16, 1 / 16]))

        try ModelFile.save(spec: spec, parameters: parameters, to: path)
        let plain = try Data(contentsOf: URL(fileURLWithPath: path))
        try ModelFile.save(spec: spec, parameters: parameters, normalization: .pixelScale, to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), plain)
        XCTAssertEqual(try ModelFile.loadModel(from: path).normalization, .pixelScale)
    }

    func testMetadataSaysHowToScaleTheInput() {
        XCTAssertTrue(ModelFile.metadata(ModelSpec(layerSizes: [4, 3, 2])).contains { $0 == ("input_scaling", "pixels / 255") })
    }
}
