import Foundation
import MLP
import XCTest
import Roles
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
        XCTAssertTrue(refusal(bytes)?.contains("not a dptrain model") ?? false)

        let spec = ModelSpec(layerSizes: [4, 3, 2])
        try ModelFile.save(spec: spec, parameters: spec.initialParameters(.he, seed: 1), to: path)
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertTrue(refusal(Array(bytes.dropLast(4)))?.contains("truncated") ?? false)
        XCTAssertTrue(refusal([UInt8](repeating: 0, count: 3))?.contains(path) ?? false)
        try? FileManager.default.removeItem(atPath: path)
        XCTAssertTrue((try? ModelFile.load(from: path)) == nil)
    }
}
