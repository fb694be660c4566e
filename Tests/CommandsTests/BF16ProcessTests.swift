import Foundation
import MLP
import XCTest

/// `--compute bf16` as a user meets it: the same model file from `train` and from `launch` with
/// one or two workers, a sensible accuracy, float32 model files, and one line where the CPU
/// cannot compute in bf16 (seen here through `DPTRAIN_HIDE_CPU_FLAGS`, on any CPU).
final class BF16ProcessTests: ProcessTestCase {
    /// Hides the native bf16 flags from a process's check, as on a CPU without them.
    let withoutBF16: [String: String?] = [BF16Support.hideFlagsVariable: BF16Support.nativeFlags.joined(separator: ",")]

    func testBF16TrainAndLaunchWithOneOrTwoWorkersWriteTheSameModel() throws {
        try XCTSkipIf(!BF16Support.isAvailable, BF16Support.currentProblem ?? "")
        let flags = ["--epochs", "1", "--batch", "128", "--shards", "4", "--seed", "3"]
        let train = try start("train", ["train", "--compute", "bf16"] + flags + ["--save", "\(folder)/train.safetensors"])
        let float32 = try start("float32", ["train"] + flags + ["--save", "\(folder)/float32.safetensors"])
        wait(train)
        wait(float32)
        XCTAssertEqual(train.terminationStatus, 0, errors("train"))
        XCTAssertEqual(float32.terminationStatus, 0, errors("float32"))
        let expected = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/train.safetensors"))
        let float32Model = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/float32.safetensors"))
        // A float32 safetensors file like float32's (same header, same size), with other weights.
        XCTAssertEqual(expected.count, float32Model.count)
        XCTAssertEqual(expected.prefix(64), float32Model.prefix(64))
        XCTAssertNotEqual(expected, float32Model, "--compute bf16 trained the float32 model: were the products bf16?")
        let accuracy = try XCTUnwrap(self.accuracy(output("train")), output("train"))
        let float32Accuracy = try XCTUnwrap(self.accuracy(output("float32")), output("float32"))
        XCTAssertGreaterThan(accuracy, 0.9)
        XCTAssertEqual(accuracy, float32Accuracy, accuracy: 0.01)

        for workers in 1...2 {
            let name = "launch\(workers)"
            let launch = try start(name, ["launch", "--workers", String(workers), "--compute", "bf16"] + flags
                                   + ["--save", "\(folder)/\(name).safetensors"])
            wait(launch)
            XCTAssertEqual(launch.terminationStatus, 0, errors(name))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name).safetensors")), expected,
                           "launch --workers \(workers) --compute bf16 trained another model than train --compute bf16")
        }
    }

    func testWithoutNativeBF16TrainRefusesInOneLine() throws {
        let train = try start("train", ["train", "--compute", "bf16"], environment: withoutBF16)
        wait(train, seconds: 20)
        XCTAssertNotEqual(train.terminationStatus, 0)
        let lines = errors("train").split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(lines, ["Error: " + BF16Support.problem(cpuFlags: [])!], errors("train"))
        XCTAssertTrue(lines.first?.contains("AVX512-BF16 (avx512_bf16) or AMX (amx_bf16)") ?? false)
    }

    func testAWorkerWithoutNativeBF16IsRefusedAtTheHello() throws {
        try XCTSkipIf(!BF16Support.isAvailable, BF16Support.currentProblem ?? "")
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--epochs", "1",
                                                    "--compute", "bf16"])
        let refused = try start("refused", ["worker", "--connect", endpoint], environment: withoutBF16)
        wait(refused, seconds: 30)
        XCTAssertNotEqual(refused.terminationStatus, 0)
        let lines = errors("refused").split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(lines.count, 1, errors("refused"))
        XCTAssertTrue(lines.first?.contains("this run computes in bf16 and this worker cannot: its CPU has neither AVX512-BF16 nor AMX") ?? false,
                      errors("refused"))

        // A worker that can joins, and the run ends.
        let joined = try start("joined", ["worker", "--connect", endpoint])
        wait(coordinator)
        wait(joined, seconds: 10)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(joined.terminationStatus, 0, errors("joined"))
    }
}
