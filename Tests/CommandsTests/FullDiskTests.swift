import Foundation
import XCTest
@testable import Training

/// A run whose disk fills up: the trained weights are not lost, the error names the cause, and a
/// supervisor is told (exit 74) that a restart cannot help.
final class FullDiskTests: XCTestCase {
    let folder = NSTemporaryDirectory() + "dptrain-full-disk-\(UUID().uuidString)"
    override func setUpWithError() throws { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    /// --save on a full disk: the model already there stays whole, and the weights of the run go to
    /// the temporary folder, which the one error line names; they load and evaluate.
    func testAFailedSaveKeepsThePreviousModelAndTheWeights() throws {
        let disk = try SmallDisk(kilobytes: 64)
        defer { disk.remove() }
        let model = disk.path + "/model.safetensors"
        try Data("the previous model".utf8).write(to: URL(fileURLWithPath: model))
        let run = try Run.dptrain(["train", "--epochs", "1", "--save", model], environment: ["TMPDIR": folder], timeLimit: 300)
        XCTAssertEqual(run.status, 74, run.errors)
        XCTAssertEqual(run.errors.split(separator: "\n").filter { $0.hasPrefix("Error: ") }.count, 1, run.errors)
        XCTAssertTrue(run.errors.contains("--save: no space left on device (ENOSPC) writing \(model); the weights are saved in \(folder)/model."),
                      run.errors)
        XCTAssertEqual(try String(contentsOfFile: model, encoding: .utf8), "the previous model")
        XCTAssertEqual(disk.names(), ["model.safetensors"])
        let fallback = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".safetensors") })
        let evaluated = try Run.dptrain(["evaluate", "--model", folder + "/" + fallback])
        XCTAssertEqual(evaluated.status, 0, evaluated.errors)
        XCTAssertTrue(run.output.contains("done: test accuracy"), run.output)
    }

    /// launch --checkpoint on a disk with room for one checkpoint: the second cannot be written, so
    /// the coordinator stops with 74 and launch stops at once, saying it once, instead of restarting a
    /// coordinator that waits for workers already gone. The first checkpoint stays good.
    func testLaunchStopsOnAFullCheckpointDisk() throws {
        let disk = try SmallDisk(kilobytes: 1200)   // one checkpoint of 784-128-10 with momentum is 815 KB
        defer { disk.remove() }
        let checkpoints = disk.path + "/checkpoints"
        let run = try Run.dptrain(["launch", "--workers", "1", "--epochs", "1", "--checkpoint", checkpoints, "--checkpoint-every", "100"],
                                  timeLimit: 120)
        XCTAssertEqual(run.status, 74, run.errors)
        let said = run.errors.components(separatedBy: "no space left on device (ENOSPC)").count - 1
        XCTAssertEqual(said, 1, run.errors)
        XCTAssertTrue(run.errors.contains("the last good checkpoint, \(checkpoints)/checkpoint-0000000100.dpck, is kept"), run.errors)
        XCTAssertTrue(run.errors.contains("[launch] coordinator exited with status 74, which a restart cannot cure"), run.errors)
        XCTAssertFalse(run.errors.contains("restarted it"), run.errors)
        XCTAssertEqual(disk.names("checkpoints"), ["checkpoint-0000000100.dpck"])
        XCTAssertEqual(try CheckpointStore.load(path: checkpoints + "/checkpoint-0000000100.dpck").state.step, 100)
    }
}
