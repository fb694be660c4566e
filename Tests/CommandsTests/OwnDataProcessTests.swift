import Foundation
import XCTest

/// A user's own data, as scikit-learn ships it (real sets inside the package, no download),
/// written as CSV, NumPy and IDX by Tests/tools/write_sklearn_data.py and trained as a user would.
final class OwnDataProcessTests: ProcessTestCase {
    func writeSklearn(_ set: String) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/write_sklearn_data.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, set, folder]
        try process.run()
        process.waitUntilExit()
        try XCTSkipIf(process.terminationStatus != 0, "scikit-learn is missing: deploy/install-test-deps.sh installs it")
    }

    func launch(_ name: String, _ arguments: [String]) throws -> Double? {
        let run = try start(name, ["launch", "--workers", "2"] + arguments)
        wait(run)
        XCTAssertEqual(run.terminationStatus, 0, errors(name))
        return accuracy((output(name) + errors(name)).replacingOccurrences(of: "[coordinator] ", with: ""))
    }

    /// load_digits' 1,797 8x8 images (0-16) as CSV, .npz and IDX: each over 0.95 with two workers,
    /// and the two uint8 binary copies train the same weights, to the bit.
    func testDigitsAsCSVNpzAndIDXTrainToTheSameWeights() throws {
        try writeSklearn("digits")
        let flags = ["--test-fraction", "0.2", "--batch", "32", "--epochs", "10"]
        var models: [String: Data] = [:]
        for (name, data) in [("csv", "digits.csv"), ("npz", "digits.npz"), ("idx", "idx")] {
            let accuracy = try XCTUnwrap(try launch(name, ["--data", "\(folder)/\(data)", "--save", "\(folder)/\(name).safetensors"] + flags),
                                         output(name) + errors(name))
            XCTAssertGreaterThanOrEqual(accuracy, 0.95, name)
            models[name] = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name).safetensors"))
        }
        XCTAssertEqual(models["npz"], models["idx"], "the .npz and IDX copies trained different weights")
        XCTAssertEqual(models["csv"], models["idx"], "the CSV, read as bytes, trained different weights")
        XCTAssertTrue(errors("idx").contains("data: 1,438 training and 359 test samples of 8x8 (IDX, normalize scale), 10 classes"), errors("idx"))
    }

    /// load_breast_cancer: 569 samples of 30 measurements on scales from 0.001 to 4,000, as CSV with a
    /// header and the label column named; standardised by default, shipped to workers as floats.
    func testBreastCancerCSVWithANamedLabelColumn() throws {
        try writeSklearn("cancer")
        let flags = ["--data", "\(folder)/cancer.csv", "--label-column", "diagnosis", "--test-fraction", "0.2"]
        let accuracy = try XCTUnwrap(try launch("cancer", flags + ["--save", "\(folder)/cancer.safetensors"]), errors("cancer"))
        XCTAssertGreaterThanOrEqual(accuracy, 0.93)
        XCTAssertTrue(errors("cancer").contains("455 training and 114 test samples of 30 (CSV, normalize standardize), 2 classes"), errors("cancer"))

        // evaluate applies the normalisation stored in the model to the raw file.
        let evaluate = try start("evaluate", ["evaluate", "--model", "\(folder)/cancer.safetensors", "--data", "\(folder)/cancer.csv",
                                              "--label-column", "diagnosis"])
        wait(evaluate)
        XCTAssertEqual(evaluate.terminationStatus, 0, errors("evaluate"))
        let line = output("evaluate").split(separator: "\n").first { $0.hasPrefix("test accuracy") }
        let evaluated = try XCTUnwrap(line.flatMap { Double($0.split(separator: " ")[2]) }, output("evaluate"))
        XCTAssertGreaterThanOrEqual(evaluated, 0.93)

        // The digits' model does not take these 30 features: one line, naming the file.
        try writeSklearn("digits")
        let digitsModel = try start("digits", ["train", "--data", "\(folder)/digits.npz", "--test-fraction", "0.2", "--epochs", "1",
                                               "--save", "\(folder)/digits.safetensors"])
        wait(digitsModel)
        let mismatch = try start("mismatch", ["evaluate", "--model", "\(folder)/digits.safetensors", "--data", "\(folder)/cancer.csv",
                                                  "--label-column", "diagnosis"])
        wait(mismatch)
        XCTAssertEqual(mismatch.terminationStatus, 65)
        XCTAssertEqual(errors("mismatch"), "Error: \(folder)/cancer.csv: samples of 30 features, but the model takes 64; evaluate it on data shaped as its training data\n")
    }

    /// Bad data stops `train` before anything starts, with one line naming the file and the row.
    func testBadDataIsOneLineAndAFailure() throws {
        let cases: [(String, String, String)] = [
            ("ragged.csv", "0,1,2\n1,1\n", "line 2: 2 cells where the first row has 3; every row needs the same columns"),
            ("nan.csv", "0,1,2\n1,NaN,2\n", "line 2: column 1 is NaN; replace missing or infinite values before training"),
            ("one.csv", "3,1,2\n3,1,2\n", "every label is 3: a classifier needs at least two classes; check the label column"),
            ("empty.csv", "", "the file is empty; write the data again"),
            ("data.parquet", "PAR1", "not a format dptrain reads: pass a folder of IDX or .npy files, an .npz, a .csv or a .safetensors file (named by its extension)"),
        ]
        for (name, text, detail) in cases {
            let path = "\(folder)/\(name)"
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            let run = try start(name, ["train", "--data", path, "--test-fraction", "0.2"])
            wait(run, seconds: 30)
            XCTAssertEqual(run.terminationStatus, 65, name)  // EX_DATAERR: a restart cannot cure it
            XCTAssertEqual(errors(name), "Error: \(path): \(detail)\n", name)
        }
        let noTest = "\(folder)/two.csv"
        FileManager.default.createFile(atPath: noTest, contents: Data("0,1\n1,2\n".utf8))
        let run = try start("no-test", ["train", "--data", noTest])
        wait(run, seconds: 30)
        XCTAssertEqual(run.terminationStatus, 65)
        XCTAssertEqual(errors("no-test"), "Error: \(noTest): has no test split: pass --test-fraction 0.2 to hold out a fifth of it, or --test-data FILE\n")
    }
}
