import Foundation
import XCTest

/// A validation split held out of MNIST's training set: accuracy on it each epoch, the test set
/// scored once at the end, both kept apart in the metrics, and --save-best's model.
final class ValidationProcessTests: ProcessTestCase {
    func events(_ path: String, _ name: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event"] as? String == name }
    }

    func testValidationTracksTestAndSaveBestKeepsTheBestEpoch() throws {
        let flags = ["--validation", "5000", "--epochs", "3", "--seed", "2"]
        let launch = try start("launch", ["launch", "--workers", "2"] + flags + [
            "--metrics", "\(folder)/metrics.jsonl", "--tensorboard", "\(folder)/board",
            "--save", "\(folder)/last.safetensors", "--save-best", "\(folder)/best.safetensors"])
        wait(launch)
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        let said = output("launch") + errors("launch")
        XCTAssertTrue(said.contains("data: 55,000 training, 5,000 validation and 10,000 test samples of 28x28, 10 classes"), said)

        let epochs = try events("\(folder)/metrics.jsonl", "epoch")
        XCTAssertEqual(epochs.count, 3)
        let validation = epochs.compactMap { $0["validation_accuracy"] as? Double }
        XCTAssertEqual(validation.count, 3, "every epoch scores the validation set")
        XCTAssertTrue(epochs.allSatisfy { $0["test_accuracy"] == nil }, "the test set waits for the end")
        let done = try XCTUnwrap(try events("\(folder)/metrics.jsonl", "done").first)
        let test = try XCTUnwrap(done["test_accuracy"] as? Double)
        XCTAssertEqual(validation.last!, test, accuracy: 0.01, "validation accuracy should estimate the test accuracy")
        XCTAssertGreaterThan(test, 0.95)

        // TensorBoard, read by its own loader: validation at each epoch, the test accuracy once, at the end.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        reader.arguments = ["python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/read_tensorboard.py").path, "\(folder)/board"]
        let pipe = Pipe()
        reader.standardOutput = pipe
        try reader.run()
        let board = pipe.fileHandleForReading.readDataToEndOfFile()
        reader.waitUntilExit()
        XCTAssertEqual(reader.terminationStatus, 0, "the tensorboard Python package reads the event files (deploy/install-test-deps.sh)")
        let scalars = try XCTUnwrap(try JSONSerialization.jsonObject(with: board) as? [String: [[Double]]])
        XCTAssertEqual(scalars["epoch/validation_accuracy"]?.map { $0[1] }.map { Double(Float($0)) }, validation.map { Double(Float($0)) })
        XCTAssertEqual(scalars["epoch/test_accuracy"]?.count, 1)
        XCTAssertEqual(Double(Float(scalars["epoch/test_accuracy"]?.first?[1] ?? 0)), Double(Float(test)))

        // The best epoch (the first of equals) is the one --save-best wrote.
        let best = validation.indices.max { validation[$0] < validation[$1] || (validation[$0] == validation[$1] && $0 > $1) }! + 1
        XCTAssertTrue(said.contains(String(format: "saved the model of epoch %d, the best validation accuracy (%.4f)", best, validation[best - 1])), said)
        let bestModel = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/best.safetensors"))
        let lastModel = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/last.safetensors"))
        XCTAssertEqual(bestModel == lastModel, best == 3, "best epoch \(best) of 3")

        // The split is the coordinator's alone: one process trains the same weights.
        let train = try start("train", ["train"] + flags + ["--save", "\(folder)/train.safetensors", "--save-best", "\(folder)/train-best.safetensors"])
        wait(train)
        XCTAssertEqual(train.terminationStatus, 0, errors("train"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/train.safetensors")), lastModel)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/train-best.safetensors")), bestModel)
    }

    func testSaveBestNeedsValidation() throws {
        let run = try start("flags", ["train", "--save-best", "\(folder)/best.safetensors"])
        wait(run, seconds: 30)
        XCTAssertEqual(run.terminationStatus, 64)
        XCTAssertTrue(errors("flags").hasPrefix("Error: --save-best keeps the epoch with the best validation accuracy: add --validation 5000 (or a fraction)\n"), errors("flags"))
    }
}
