import ArgumentParser
import Foundation
import XCTest
@testable import Commands
import MLP
import Plan
import Roles
import Training

/// The mistakes a newcomer makes in a first hour with dptrain, each run through the
/// real executable: the exact line it prints, its exit status, and what it costs.
final class FirstHourTests: XCTestCase {
    let folder = NSTemporaryDirectory() + "dptrain-first-hour-\(UUID().uuidString)"
    static let bundledData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/mnist").path

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    /// A data folder like the bundled one, with links to its files; `truncate` cuts one file to that many bytes.
    func dataFolder(truncating stem: String? = nil, to length: Int = 0) throws -> String {
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.bundledData) {
            let source = Self.bundledData + "/" + file, target = data + "/" + file
            if let stem, file.hasPrefix(stem) {
                try FileManager.default.contents(atPath: source)!.prefix(length).write(to: URL(fileURLWithPath: target))
            } else {
                try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: source)
            }
        }
        return data
    }

    func testTruncatedGzipIsRefusedInLittleMemory() throws {
        let data = try dataFolder(truncating: "train-images-idx3-ubyte", to: 3_000_000)
        let result = try Run.dptrain(["train", "--data", data], measuringMemory: true)
        XCTAssertEqual(result.status, 65, result.errors)   // ExitStatus.dataError: no restart cures it
        XCTAssertEqual(result.errors, "Error: \(data)/train-images-idx3-ubyte.gz: it inflates to 14532036 of the 47040016 bytes its header promises: the file is truncated; download or copy it again\n")
        // The whole process, BLAS and all, in well under 100 MB (a good file's images alone are 47 MB).
        XCTAssertLessThan(try XCTUnwrap(result.peakKilobytes), 100_000)
    }

    func testDivergedRunFailsWithAdvice() throws {
        let result = try Run.dptrain(["train", "--lr", "100", "--epochs", "1"])
        XCTAssertEqual(result.status, 65)   // a restart would diverge again
        XCTAssertTrue(result.output.hasPrefix("dptrain: 784-128-10 relu, cross-entropy, biases, momentum lr 100.0 cosine, batch 128 in 2 shards, 1 epoch, seed 1\n"
                                              + "data: 60,000 training and 10,000 test samples of 28x28, 10 classes\n"), result.output)
        XCTAssertFalse(result.output.contains("done:"), result.output)
        // The gradients outgrow the fixed-point range that sums them exactly within a few steps.
        XCTAssertTrue(result.errors.hasPrefix("Error: training diverged at epoch 1, step "), result.errors)
        XCTAssertTrue(result.errors.hasSuffix(": a gradient grew beyond 65536 per chunk, past the range dptrain sums exactly; "
                                              + "try a lower learning rate than --lr 100.0\n"), result.errors)
    }

    /// A dptrain model loaded and saved again by Python's safetensors, which orders the tensors by
    /// name and lays out the header its own way, evaluates as the original does.
    func testModelResavedByPythonSafetensorsEvaluates() throws {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import safetensors, numpy"]
        try python.run()
        python.waitUntilExit()
        if python.terminationStatus != 0 {
            // deploy/install-test-deps.sh installs them; only a machine set up by hand may lack them.
            if ProcessInfo.processInfo.environment["CI"] == "true" { return XCTFail("python3 with safetensors and numpy is missing") }
            throw XCTSkip("needs python3 with safetensors and numpy: run deploy/install-test-deps.sh")
        }
        let original = try savedModel(), resaved = folder + "/resaved.safetensors"
        let script = """
            import sys
            from safetensors import safe_open
            from safetensors.numpy import load_file, save_file
            with safe_open(sys.argv[1], "np") as f:
                metadata = f.metadata()
            save_file(load_file(sys.argv[1]), sys.argv[2], metadata=metadata)
            """
        let resave = Process()
        resave.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        resave.arguments = ["python3", "-c", script, original, resaved]
        try resave.run()
        resave.waitUntilExit()
        XCTAssertEqual(resave.terminationStatus, 0)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: original)), try Data(contentsOf: URL(fileURLWithPath: resaved)))

        let first = try Run.dptrain(["evaluate", "--model", original])
        let second = try Run.dptrain(["evaluate", "--model", resaved])
        XCTAssertEqual(second.status, 0, second.errors)
        XCTAssertEqual(second.output, first.output)
        XCTAssertTrue(second.output.hasPrefix("model: 784-16-10"), second.output)
    }

    /// A small model of MNIST's shape, saved in `folder`.
    func savedModel() throws -> String {
        let model = folder + "/model.safetensors"
        let spec = ModelSpec(layerSizes: [784, 16, 10])
        try ModelFile.save(spec: spec, parameters: spec.initialParameters(.he, seed: 7), to: model)
        return model
    }

    func testEvaluateNeedsOnlyTheTestFiles() throws {
        let data = folder + "/test-only"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for file in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            try FileManager.default.createSymbolicLink(atPath: data + "/" + file, withDestinationPath: Self.bundledData + "/" + file)
        }
        let result = try Run.dptrain(["evaluate", "--model", try savedModel(), "--data", data])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.hasPrefix("model: 784-16-10"), result.output)
        XCTAssertTrue(result.output.contains(" of 10000), mean loss "), result.output)
    }

    func testDataThatIsAFileSaysSo() throws {
        let file = Self.bundledData + "/t10k-labels-idx1-ubyte.gz"
        for arguments in [["train"], ["evaluate", "--model", try savedModel()]] {
            let result = try Run.dptrain(arguments + ["--data", file])
            XCTAssertEqual(result.status, 65)
            XCTAssertEqual(result.errors, "Error: \(file): that is a file, not a folder; pass --data with the folder that holds the four MNIST IDX files\n")
        }
        // DPTRAIN_DATA is used as given, not passed over for the bundled set when it is wrong.
        let fromEnvironment = try Run.dptrain(["evaluate", "--model", try savedModel()], environment: ["DPTRAIN_DATA": file])
        XCTAssertEqual(fromEnvironment.status, 65)
        XCTAssertTrue(fromEnvironment.errors.hasPrefix("Error: \(file): that is a file, not a folder;"), fromEnvironment.errors)
    }

    func testSavePathIsCheckedBeforeTraining() throws {
        let result = try Run.dptrain(["train", "--save", "/nonexistent/dir/m.safetensors"])
        XCTAssertEqual(result.status, 64)
        XCTAssertEqual(result.output, "")
        XCTAssertEqual(result.errors.split(separator: "\n").first,
                       "Error: --save /nonexistent/dir/m.safetensors: the folder /nonexistent/dir does not exist; create it or choose another path")
    }

    func testNegativeNumbersReachValidation() throws {
        XCTAssertEqual(message(["train", "--lr", "-1"]), "--lr must be a positive number (got -1.0)")
        XCTAssertEqual(message(["train", "--epochs", "-3"]), "--epochs must be at least 1 (got -3)")
        XCTAssertEqual(message(["train", "--weight-decay", "-0.5"]), "--weight-decay must be zero or positive (got -0.5)")
        XCTAssertEqual(message(["launch", "--workers", "-2"]), "--workers must be between 1 and 256 (got -2)")
        XCTAssertEqual(message(["train", "--hidden", "-5"]),
                       "--hidden '-5' must be comma-separated layer widths of at least 1, such as 128 or 512,256")
        XCTAssertEqual(message(["coordinator", "--bind", "ipc:///tmp/x", "--workers", "1", "--step-deadline", "-5"]),
                       "--step-deadline must be between 1 and 3600 seconds (got -5.0); workers send heartbeats every second")
        XCTAssertEqual(message(["worker", "--connect", "ipc:///tmp/x", "--give-up-after", "-1"]),
                       "--give-up-after must be a positive number of seconds")
        let result = try Run.dptrain(["train", "--lr", "-1"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.errors.hasPrefix("Error: --lr must be a positive number (got -1.0)\n"), result.errors)
    }

    func testBLASLineSaysWhatHappened() throws {
        let unknown = try Run.dptrain(["train"], environment: ["DPTRAIN_BLAS_CORE": "Foo"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertEqual(unknown.errors, "Error: DPTRAIN_BLAS_CORE=Foo is not an OpenBLAS core name; use one of Katmai, Coppermine, Northwood, Prescott, Banias, Atom, Core2, Penryn, Dunnington, Nehalem, Athlon, Opteron, Opteron_SSE3, Barcelona, Nano, Sandybridge, Bobcat, Bulldozer, Piledriver, Haswell, Steamroller, Excavator, Zen, SkylakeX, Cooperlake, SapphireRapids, or unset it\n")
        let forced = try Run.dptrain(["bench", "--models", "784-10", "--batches", "8", "--seconds", "0.01"],
                                     environment: ["DPTRAIN_BLAS_CORE": "prescott"])
        XCTAssertEqual(forced.status, 0, forced.errors)
        let line = try XCTUnwrap(forced.output.split(separator: "\n").first)
        XCTAssertTrue(line.hasPrefix("BLAS: OpenBLAS "), forced.output)
        XCTAssertTrue(line.hasSuffix(", Prescott kernels (forced by DPTRAIN_BLAS_CORE=Prescott)"), forced.output)
    }

    func testCountsAreInGoodGrammar() {
        var config = TrainingConfig.standard()
        config.epochs = 1
        XCTAssertEqual(RunLines.configuration(config),
                       "784-128-10 relu, cross-entropy, biases, momentum lr 0.1 cosine, batch 128 in 2 shards, 1 epoch, seed 1")
        config.batchSize = 1
        XCTAssertEqual(RunLines.configuration(config),
                       "784-128-10 relu, cross-entropy, biases, momentum lr 0.1 cosine, batch 1 in 1 shard, 1 epoch, seed 1")
        let report = TrainingReport(epoch: 1, step: 1, trainLoss: 2, testAccuracy: 0.5, samplesPerSecond: 1234.5,
                                    elapsedSeconds: 0.25, workers: 1)
        XCTAssertEqual(RunLines.done(report, workers: 1), "done: test accuracy 0.5000 after 1 epoch (1 step) with 1 worker, 1,235 samples/s, 0.2s")
        XCTAssertEqual(RunLines.done(TrainingReport(epoch: 3, step: 1407, trainLoss: 2, testAccuracy: 0.97, samplesPerSecond: 1e5,
                                                    elapsedSeconds: 2, workers: 2)),
                       "done: test accuracy 0.9700 after 3 epochs (1,407 steps), 100,000 samples/s, 2.0s")
        XCTAssertEqual(counted(1, "class", plural: "classes"), "1 class")
        XCTAssertEqual(counted(10, "class", plural: "classes"), "10 classes")
    }

    /// Help text wraps where the terminal needs it to, never mid-phrase where the source had a line
    /// break; lines of examples (indented) stand alone.
    func testHelpWrapsOnlyAtTheEdge() {
        let commands: [ParsableCommand.Type] = [DptrainCommand.self, LaunchCommand.self, TrainCommand.self, CoordinatorCommand.self,
                                                WorkerCommand.self, EvaluateCommand.self, ReportCommand.self, BenchCommand.self]
            + BenchCommand.configuration.subcommands
        for command in commands {
            let help = DptrainCommand.helpMessage(for: command, columns: 80)
            let prose = help.components(separatedBy: "\nUSAGE:")[0].split(separator: "\n", omittingEmptySubsequences: false)
            for (line, next) in zip(prose, prose.dropFirst()) where !line.isEmpty && !next.isEmpty && !line.hasPrefix("  ") {
                let nextWord = next.split(separator: " ").first ?? ""
                XCTAssertGreaterThanOrEqual(line.count + 1 + nextWord.count, 80, "\(command) breaks its help early:\n\(line)\n\(next)")
            }
        }
    }

    func testEveryOutputPathIsChecked() throws {
        let file = folder + "/file"
        FileManager.default.createFile(atPath: file, contents: nil)
        XCTAssertEqual(message(["train", "--metrics", "/nonexistent/m.jsonl"]),
                       "--metrics /nonexistent/m.jsonl: the folder /nonexistent does not exist; create it or choose another path")
        XCTAssertEqual(message(["train", "--save", folder]), "--save \(folder): that is a folder; give a file name inside it")
        XCTAssertEqual(message(["train", "--save", "models/"]), "--save models/: that is a folder; give a file name inside it")
        XCTAssertEqual(message(["coordinator", "--bind", "ipc:///tmp/x", "--workers", "1", "--checkpoint", file]),
                       "--checkpoint \(file): that is a file, not a folder")
        XCTAssertEqual(message(["launch", "--workers", "1", "--checkpoint", file + "/sub"]),
                       "--checkpoint \(file)/sub: cannot create it, because \(file) is a file")
        XCTAssertEqual(message(["launch", "--workers", "1", "--save", "/nonexistent/m.safetensors"]),
                       "--save /nonexistent/m.safetensors: the folder /nonexistent does not exist; create it or choose another path")
        // Good paths pass: a new file in an existing folder, a folder yet to be made.
        XCTAssertNil(message(["train", "--save", folder + "/m.safetensors", "--metrics", "m.jsonl"]))
        XCTAssertNil(message(["coordinator", "--bind", "ipc:///tmp/x", "--workers", "1", "--checkpoint", folder + "/a/b"]))
    }
}

/// One finished run of the dptrain executable.
struct Run {
    var status: Int32
    var output: String
    var errors: String
    /// The process's peak resident memory in KB, when asked for.
    var peakKilobytes: Int?

    /// The built dptrain, beside this test bundle.
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("dptrain").path

    /// Runs dptrain with `arguments`, and `environment` added to this process's; its output goes to files,
    /// so that nothing blocks on a full pipe. With `measuringMemory`, GNU time measures its peak RSS: the
    /// test process's own rusage would count this large process's memory in the child it spawns.
    /// With `timeLimit`, a run still going after that many seconds is killed (status 124, as timeout(1) says):
    /// a hang fails the test instead of stalling the suite.
    static func dptrain(_ arguments: [String], environment: [String: String] = [:], measuringMemory: Bool = false,
                        timeLimit: Int? = nil) throws -> Run {
        let folder = NSTemporaryDirectory() + "dptrain-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let process = Process()
        if measuringMemory {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
            process.arguments = ["-f", "%M", "-o", folder + "/memory", executable] + arguments
        } else if let timeLimit {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments = ["-k", "5", String(timeLimit), executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for name in ["out", "err"] { FileManager.default.createFile(atPath: folder + "/" + name, contents: nil) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: folder + "/out")
        process.standardError = FileHandle(forWritingAtPath: folder + "/err")
        try process.run()
        process.waitUntilExit()
        func read(_ name: String) -> String { (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? "" }
        // GNU time writes "Command exited with non-zero status N" before the figure.
        let memory = read("memory").split(separator: "\n").last.flatMap { Int($0) }
        return Run(status: process.terminationStatus, output: read("out"), errors: read("err"), peakKilobytes: memory)
    }
}
