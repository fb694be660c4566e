import Foundation
import MLP
import Training
import XCTest

/// dptrain predict as a user runs it: a line per sample that agrees with evaluate.
final class PredictProcessTests: XCTestCase {
    let folder = NSTemporaryDirectory() + "dptrain-predict-\(UUID().uuidString)"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func dptrain(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        try runToEnd(ProcessTests.executable, arguments)
    }

    /// A trained model's predictions on the MNIST test set: as many right answers as evaluate counts,
    /// the same in CSV and JSON lines, each row's probabilities summing to 1 with the predicted class the highest.
    func testPredictAgreesWithEvaluateExactly() throws {
        let model = folder + "/model.safetensors"
        let trained = try dptrain(["train", "--epochs", "1", "--hidden", "32", "--save", model])
        XCTAssertEqual(trained.status, 0, trained.errors)
        let evaluated = try dptrain(["evaluate", "--model", model])
        XCTAssertEqual(evaluated.status, 0, evaluated.errors)
        // "test accuracy 0.9512 (9512 of 10000), mean loss ..."
        let line = try XCTUnwrap(evaluated.output.split(separator: "\n").first { $0.hasPrefix("test accuracy") })
        let correct = try XCTUnwrap(Int(line.split(separator: "(")[1].split(separator: " ")[0]))
        XCTAssertGreaterThan(correct, 9000, String(line))

        let csv = try dptrain(["predict", "--model", model])
        XCTAssertEqual(csv.status, 0, csv.errors)
        let rows = csv.output.split(separator: "\n")
        XCTAssertEqual(rows.first, "sample,label,predicted,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9")
        XCTAssertEqual(rows.count, 10_001)
        var agreeing = 0
        for (index, row) in rows.dropFirst().enumerated() {
            let fields = row.split(separator: ",")
            XCTAssertEqual(fields.count, 13)
            XCTAssertEqual(Int(fields[0]), index)
            let probabilities = fields[3...].map { Double($0)! }
            XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-4)
            XCTAssertEqual(probabilities.firstIndex(of: probabilities.max()!), Int(fields[2]))
            if fields[1] == fields[2] { agreeing += 1 }
        }
        XCTAssertEqual(agreeing, correct, "predict's right answers are evaluate's")
        XCTAssertTrue(csv.errors.contains("\(correct) agree with their labels"), csv.errors)

        let jsonl = folder + "/predictions.jsonl"
        let json = try dptrain(["predict", "--model", model, "-o", jsonl])
        XCTAssertEqual(json.status, 0, json.errors)
        XCTAssertEqual(json.output, "")
        let objects = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n")
            .map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(objects.count, 10_000)
        XCTAssertEqual(objects.filter { $0["label"] as? Int == $0["predicted"] as? Int }.count, correct)
        // The same numbers in both formats.
        let firstCSV = rows[1].split(separator: ",")[3...].map { Float($0)! }
        XCTAssertEqual((objects[0]["probabilities"] as? [Double])?.map { Float($0) }, firstCSV)
    }

    /// A model of another shape than the data: one line that says both shapes, and a failure.
    func testModelThatDoesNotFitTheDataIsOneLine() throws {
        let model = try modelOf100Inputs()
        let result = try dptrain(["predict", "--model", model])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.output, "")
        XCTAssertEqual(result.errors.split(separator: "\n").count, 1, result.errors)
        XCTAssertTrue(result.errors.contains("samples of 784 features, but the model takes 100"), result.errors)
    }

    /// A model that takes 100 inputs, where MNIST has 784.
    func modelOf100Inputs() throws -> String {
        let model = folder + "/small.safetensors"
        let spec = ModelSpec(layerSizes: [100, 16, 10])
        try ModelFile.save(spec: spec, parameters: spec.initialParameters(.he, seed: 7), to: model)
        return model
    }

    func testOutputInAFolderThatDoesNotExistFailsFirst() throws {
        let result = try dptrain(["predict", "--model", folder + "/none.safetensors", "-o", folder + "/nowhere/p.csv"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.errors.contains("--output \(folder)/nowhere/p.csv: the folder \(folder)/nowhere does not exist"), result.errors)
    }
}

extension PredictProcessTests {
    /// evaluate says the same mismatch in the same one line (it had printed the usage after it).
    func testEvaluateSaysAMismatchInOneLine() throws {
        let model = try modelOf100Inputs()
        let result = try dptrain(["evaluate", "--model", model])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.errors.split(separator: "\n").count, 1, result.errors)
    }
}
