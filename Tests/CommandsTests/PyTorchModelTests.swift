import Foundation
import XCTest

/// A model from PyTorch: an nn.Sequential's state_dict in safetensors ("0.weight" as [out, in],
/// "0.bias", "2.weight", ...), read by `evaluate` and by `--init-from` with the layer sizes from
/// its shapes. Tests/tools/pytorch_layout.py writes the file as PyTorch's save_file does (with
/// safetensors and NumPy: the torch wheel and its CUDA libraries are gigabytes) and scores it
/// with NumPy's own forward pass.
final class PyTorchModelTests: ProcessTestCase {
    var tools: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tools") }
    var mnist: String { tools.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("data/mnist").path }

    func run(_ name: String, _ arguments: [String]) throws -> String {
        let process = try start(name, arguments)
        wait(process)
        XCTAssertEqual(process.terminationStatus, 0, errors(name))
        return output(name)
    }

    func testAPyTorchSequentialEvaluatesAndWarmStartsAsTheSameModel() throws {
        _ = try run("train", ["train", "--epochs", "1", "--save", "\(folder)/dptrain.safetensors"])
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", tools.appendingPathComponent("pytorch_layout.py").path,
                            "\(folder)/dptrain.safetensors", "\(folder)/torch.safetensors", mnist]
        let pipe = Pipe()
        python.standardOutput = pipe
        try python.run()
        python.waitUntilExit()
        XCTAssertEqual(python.terminationStatus, 0)
        let numpyAccuracy = try XCTUnwrap(Double(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)))

        // The same predictions, sample for sample: the same accuracy, loss and confusion matrix.
        let fromPyTorch = try run("evaluate-torch", ["evaluate", "--model", "\(folder)/torch.safetensors", "--activation", "relu"])
        let original = try run("evaluate", ["evaluate", "--model", "\(folder)/dptrain.safetensors"])
        XCTAssertEqual(fromPyTorch, original)
        XCTAssertTrue(fromPyTorch.hasPrefix("model: 784-128-10 relu, cross-entropy, biases\n"), fromPyTorch)
        let line = try XCTUnwrap(fromPyTorch.split(separator: "\n").first { $0.hasPrefix("test accuracy") })
        XCTAssertEqual(try XCTUnwrap(Double(line.split(separator: " ")[2])), numpyAccuracy, accuracy: 0.0005, "NumPy's forward pass of the file disagrees")

        // A warm start at a learning rate too small to learn much alone keeps what the model knew,
        // the same with two workers as in one process.
        let flags = ["--init-from", "\(folder)/torch.safetensors", "--lr", "0.0001", "--epochs", "1"]
        let warm = try run("warm", ["train"] + flags + ["--save", "\(folder)/warm.safetensors"])
        let warmAccuracy = try XCTUnwrap(accuracy(warm), warm)
        XCTAssertGreaterThan(warmAccuracy, numpyAccuracy - 0.01)
        let cold = try XCTUnwrap(accuracy(try run("cold", ["train", "--lr", "0.0001", "--epochs", "1"])))
        XCTAssertLessThan(cold, warmAccuracy - 0.1)
        _ = try run("launch", ["launch", "--workers", "2"] + flags + ["--save", "\(folder)/launch.safetensors"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/launch.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: "\(folder)/warm.safetensors")))
    }

    func testAModelOfOtherSizesIsRefusedForInitFrom() throws {
        _ = try run("small", ["train", "--epochs", "1", "--hidden", "16", "--save", "\(folder)/small.safetensors"])
        let refused = try start("refused", ["train", "--init-from", "\(folder)/small.safetensors", "--hidden", "32"])
        wait(refused)
        XCTAssertEqual(refused.terminationStatus, 65)
        XCTAssertEqual(errors("refused"), "Error: \(folder)/small.safetensors: it is a 784-16-10 model, but this run trains 784-32-10; "
                       + "start from a model of the data's inputs and classes, or leave out --hidden and --no-bias\n")
    }
}
