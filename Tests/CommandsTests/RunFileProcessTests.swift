import Foundation
import XCTest

/// --config FILE as a user writes one: the same run as the flags, the command line over the file,
/// and a mistake named by file, line and key.
final class RunFileProcessTests: ProcessTestCase {
    func dptrain(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        try runToEnd(ProcessTests.executable, arguments)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = "\(folder)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A run file, with one of its values overridden on the command line, trains the very bytes the
    /// same flags do; the model and the metrics' run line carry the settings, and `config --from`
    /// turns them into a run file that trains the same bytes once more.
    func testARunFileTrainsTheBytesItsFlagsTrain() throws {
        let file = try write("run.yaml", """
            # a run of dptrain
            epochs: 2          # overridden by --epochs 1 below
            batch: 64
            hidden: [32, 16]
            optimizer: adam
            lr: 0.002
            seed: 7
            validation: 0.1    # a held-out split changes the weights: it must travel too
            """)
        let fromFile = "\(folder)/file.safetensors", fromFlags = "\(folder)/flags.safetensors", metricsPath = "\(folder)/run.jsonl"
        let a = try dptrain(["train", "--config", file, "--epochs", "1", "--save", fromFile, "--metrics", metricsPath])
        XCTAssertEqual(a.status, 0, a.errors)
        XCTAssertTrue(a.output.contains("after 1 epoch"), a.output)
        let b = try dptrain(["train", "--epochs", "1", "--batch", "64", "--hidden", "32,16", "--optimizer", "adam", "--lr", "0.002", "--seed", "7",
                             "--validation", "0.1", "--save", fromFlags])
        XCTAssertEqual(b.status, 0, b.errors)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fromFile))
        XCTAssertEqual(bytes, try Data(contentsOf: URL(fileURLWithPath: fromFlags)), "the same weights and metadata, byte for byte")

        let run = try XCTUnwrap(try metrics(metricsPath).first)
        let settings = try XCTUnwrap(run["settings"] as? [String: String], "\(run)")
        XCTAssertEqual(settings["epochs"], "1")
        XCTAssertEqual(settings["hidden"], "32,16")
        XCTAssertEqual(settings["lr"], "0.002")
        XCTAssertEqual(settings["schedule"], "cosine", "a default, spelled out")
        XCTAssertEqual(settings["validation"], "0.1")

        let printed = try dptrain(["config", "--from", fromFile])
        XCTAssertEqual(printed.status, 0, printed.errors)
        XCTAssertTrue(printed.output.contains("\nepochs: 1\nbatch: 64\n"), printed.output)
        XCTAssertTrue(printed.output.contains("\nvalidation: 0.1\n"), printed.output)
        let again = "\(folder)/again.safetensors"
        let repeated = try dptrain(["train", "--config", try write("repeat.yaml", printed.output), "--save", again])
        XCTAssertEqual(repeated.status, 0, repeated.errors)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again)), bytes, "the model file alone repeats the run")
    }

    /// `dptrain config FILE` prints every setting the run would use, and accepts its own output.
    func testConfigPrintsTheEffectiveSettings() throws {
        let file = try write("run.yaml", "preset: seed\nepochs: 1\nno-bias: true\n")
        let printed = try dptrain(["config", file])
        XCTAssertEqual(printed.status, 0, printed.errors)
        // The training settings first, resolved; then the command's other flags (which change as flags are added).
        let body = printed.output.split(separator: "\n").dropFirst().joined(separator: "\n")
        XCTAssertTrue(body.hasPrefix("""
            epochs: 1
            batch: 32
            shards: 2
            hidden: 10
            activation: sigmoid
            loss: mse
            optimizer: sgd
            lr: 0.5
            schedule: constant
            momentum: 0.9
            weight-decay: 0.0
            init: uniform
            no-bias: true
            seed: 1
            """), body)
        XCTAssertTrue(body.hasSuffix("resume: false"), body)
        let reread = try dptrain(["config", try write("printed.yaml", printed.output)])
        XCTAssertEqual(reread.output.split(separator: "\n").dropFirst(), printed.output.split(separator: "\n").dropFirst())
    }

    /// Each mistake is one line naming the file, the line and the key, and exit status 64, before any data is read.
    func testMistakesNameTheFileTheLineAndTheKey() throws {
        let cases: [(String, String)] = [
            ("epochs: 1\nbatsh: 64\n", "bad.yaml:2: batsh: `train` has no flag --batsh; did you mean batch?"),
            ("epochs: 1\n\nlr: fast\n", "bad.yaml:3: lr: The value 'fast' is invalid for '--lr <lr>'"),
            ("no-bias: maybe\n", "bad.yaml:1: no-bias: is a flag: give true or false"),
            ("epochs: 1\nepochs: 2\n", "bad.yaml:2: epochs: given twice (first on line 1)"),
            ("hidden: {a: 1}\n", "bad.yaml:1: hidden: must be a single value or a list, not a mapping"),
            ("epochs: 0\n", "bad.yaml:1: epochs: --epochs must be at least 1 (got 0)"),
        ]
        for (text, expected) in cases {
            let file = try write("bad.yaml", text)
            let result = try dptrain(["train", "--config", file, "--data", "\(folder)/not-read"])
            XCTAssertEqual(result.status, 64, text)
            XCTAssertEqual(result.errors, "Error: \(folder)/\(expected)\n", text)
        }
        let missing = try dptrain(["train", "--config", "\(folder)/none.yaml"])
        XCTAssertEqual(missing.errors, "Error: \(folder)/none.yaml: no such file\n")
        // The coordinator has no --max-restarts: a key of launch's.
        let coordinator = try runToEnd(ProcessTests.executable, ["coordinator", "--config", try write("c.yaml", "max-restarts: 1\n")])
        XCTAssertEqual(coordinator.errors, "Error: \(folder)/c.yaml:1: max-restarts: `coordinator` has no flag --max-restarts\n")
    }

    /// launch reads its own keys and passes the rest on: a two-worker run from a file alone.
    func testLaunchRunsFromARunFile() throws {
        let metricsPath = "\(folder)/launch.jsonl"
        let file = try write("launch.yaml", "workers: 2\nepochs: 1\nbatch: 256\nhidden: 16\nmax-restarts: 0\nmetrics: \(metricsPath)\n")
        let launch = try start("launch", ["launch", "--config", file])
        wait(launch)
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        let run = try XCTUnwrap(try metrics(metricsPath).first)
        XCTAssertEqual(run["trainer"] as? String, "coordinator")
        XCTAssertEqual((run["settings"] as? [String: String])?["batch"], "256")
        XCTAssertEqual((run["settings"] as? [String: String])?["hidden"], "16")
    }
}
