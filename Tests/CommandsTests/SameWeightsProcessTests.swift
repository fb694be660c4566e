import Foundation
import XCTest

/// The guarantee, as a user meets it: the same flags and seed write the same model file, to
/// the bit, from `dptrain train` and from `dptrain launch` with any number of workers.
final class SameWeightsProcessTests: ProcessTestCase {
    func testTrainAndLaunchWithOneTwoOrThreeWorkersWriteTheSameModel() throws {
        // Four shards: three workers hold two, one and one of them (uneven shares, as a run has).
        let flags = ["--epochs", "1", "--batch", "128", "--shards", "4", "--seed", "3"]
        let train = try start("train", ["train"] + flags + ["--save", "\(folder)/train.safetensors"])
        wait(train)
        XCTAssertEqual(train.terminationStatus, 0, errors("train"))
        let expected = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/train.safetensors"))
        let accuracy = try XCTUnwrap(self.accuracy(output("train")), output("train"))
        XCTAssertGreaterThan(accuracy, 0.9)
        for workers in 1...3 {
            let name = "launch\(workers)"
            let launch = try start(name, ["launch", "--workers", String(workers)] + flags + ["--save", "\(folder)/\(name).safetensors"])
            wait(launch)
            XCTAssertEqual(launch.terminationStatus, 0, errors(name))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name).safetensors")), expected,
                           "launch --workers \(workers) trained another model than train")
            // launch prefixes the coordinator's lines with [coordinator].
            let lines = (output(name) + errors(name)).replacingOccurrences(of: "[coordinator] ", with: "")
            XCTAssertEqual(self.accuracy(lines), accuracy, lines)
        }
    }

    /// A worker on other BLAS kernels than the coordinator's is refused with one line saying what
    /// to do; with --accept-other-kernels it joins, and both ends warn.
    func testAWorkerOnOtherKernelsIsRefusedUnlessItAccepts() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--epochs", "1"])
        waitUntil("the coordinator's BLAS line") { errors("coordinator").contains("kernels") }
        let other = errors("coordinator").contains("Prescott kernels") ? "Haswell" : "Prescott"
        let refused = try start("refused", ["worker", "--connect", endpoint], environment: ["DPTRAIN_BLAS_CORE": other])
        wait(refused, seconds: 30)
        XCTAssertNotEqual(refused.terminationStatus, 0)
        let line = errors("refused").split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(line.count, 1, errors("refused"))
        XCTAssertTrue(line.first?.contains("this worker on \(other): its gradients would differ in the last bits") ?? false, errors("refused"))
        XCTAssertTrue(line.first?.contains("--accept-other-kernels") ?? false, errors("refused"))

        let accepted = try start("accepted", ["worker", "--connect", endpoint, "--accept-other-kernels"], environment: ["DPTRAIN_BLAS_CORE": other])
        wait(coordinator)
        wait(accepted, seconds: 10)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(accepted.terminationStatus, 0, errors("accepted"))
        XCTAssertTrue(errors("coordinator").contains("computes on \(other) BLAS kernels"), errors("coordinator"))
        XCTAssertTrue(errors("accepted").contains("as --accept-other-kernels allows"), errors("accepted"))
    }
}
