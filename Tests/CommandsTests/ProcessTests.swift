import Foundation
import XCTest

/// The dptrain executable as a user runs it: exit status and what it prints.
final class ProcessTests: XCTestCase {
    /// The built dptrain, beside this test bundle.
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("dptrain").path
    let folder = NSTemporaryDirectory() + "dptrain-process-\(UUID().uuidString)"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func dptrain(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        try runToEnd(Self.executable, arguments)
    }

    func testMissingDataDirectoryIsOneLineAndAFailure() throws {
        let result = try dptrain(["train", "--data", folder + "/nowhere"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.errors.split(separator: "\n").count, 1, result.errors)
        XCTAssertTrue(result.errors.contains("\(folder)/nowhere: no such data directory"), result.errors)
    }

    func testCorruptDataFileNamesTheFile() throws {
        for stem in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            FileManager.default.createFile(atPath: "\(folder)/\(stem)", contents: Data([0, 0, 8, 3, 0, 0]))
        }
        let result = try dptrain(["train", "--data", folder])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.errors.split(separator: "\n").count, 1, result.errors)
        XCTAssertTrue(result.errors.contains("train-images-idx3-ubyte: the header is cut short"), result.errors)
    }

    func testModelThatIsNotOursIsRefused() throws {
        FileManager.default.createFile(atPath: folder + "/model.safetensors", contents: Data("not a model at all".utf8))
        let result = try dptrain(["evaluate", "--model", folder + "/model.safetensors"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.errors.split(separator: "\n").count, 1, result.errors)
        XCTAssertTrue(result.errors.contains("model.safetensors"), result.errors)
    }

    func testBadFlagExitsNonZeroWithoutTrap() throws {
        let result = try dptrain(["train", "--epochs", "0"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.errors.hasPrefix("Error: --epochs must be at least 1 (got 0)"), result.errors)
    }

    /// Trains, saves, evaluates: the model file round-trips through two processes.
    func testTrainSaveEvaluate() throws {
        let model = folder + "/model.safetensors", metrics = folder + "/metrics.jsonl"
        let trained = try dptrain(["train", "--epochs", "1", "--save", model, "--metrics", metrics])
        XCTAssertEqual(trained.status, 0, trained.errors)
        XCTAssertTrue(trained.output.contains("BLAS: OpenBLAS"), trained.output)
        let accuracy = try XCTUnwrap(trained.output.split(separator: "\n").first { $0.hasPrefix("done:") })
        let evaluated = try dptrain(["evaluate", "--model", model])
        XCTAssertEqual(evaluated.status, 0, evaluated.errors)
        // The same weights on the same test set give the same accuracy in both processes.
        let trainedFigure = accuracy.split(separator: " ")[3]
        XCTAssertTrue(evaluated.output.contains("test accuracy \(trainedFigure)"), "\(accuracy)\n\(evaluated.output)")
        XCTAssertTrue(evaluated.output.contains("confusion matrix"))
        // The run line, a step line every 4 steps (469 steps, at least 100 points), the epoch and the end.
        let events = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(events.first?["event"] as? String, "run")
        XCTAssertEqual(events.filter { $0["event"] as? String == "step" }.compactMap { $0["step"] as? Int }, Array(stride(from: 4, through: 468, by: 4)))
        XCTAssertEqual(events.suffix(2).compactMap { $0["event"] as? String }, ["epoch", "done"])
    }
}

/// Runs a program to its end: its exit status, standard output and standard error.
func runToEnd(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
}
