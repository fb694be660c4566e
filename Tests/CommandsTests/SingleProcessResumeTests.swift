import Foundation
import XCTest

/// `dptrain train --checkpoint DIR`: a single-process run stopped by a signal (a preemption)
/// keeps a checkpoint, and `--resume` ends with the weights of a run never stopped, to the bit.
final class SingleProcessResumeTests: ProcessTestCase {
    func testAStoppedRunResumesToTheUninterruptedWeights() throws {
        let checkpoints = "\(folder)/checkpoints"
        let flags = ["train", "--epochs", "2", "--batch", "256", "--checkpoint", checkpoints, "--checkpoint-every", "50"]
        let stopped = try start("stopped", flags + ["--save", "\(folder)/partial.safetensors"])
        waitUntil("the first checkpoint") { FileManager.default.fileExists(atPath: "\(checkpoints)/checkpoint-0000000050.dpck") }
        kill(stopped.processIdentifier, SIGTERM)
        wait(stopped)
        XCTAssertEqual(stopped.terminationStatus, 0, errors("stopped"))
        let stopLine = try XCTUnwrap(output("stopped").split(separator: "\n").first { $0.hasPrefix("stopped by signal 15 at step ") }, output("stopped"))
        XCTAssertTrue(stopLine.contains("of 470 steps before its run was stopped"), String(stopLine))
        XCTAssertFalse(output("stopped").contains("done:"), "the run was to be stopped mid-way: \(output("stopped"))")

        let resumed = try start("resumed", ["train", "--epochs", "2", "--batch", "256", "--checkpoint", checkpoints, "--resume",
                                            "--save", "\(folder)/resumed.safetensors"])
        let whole = try start("whole", ["train", "--epochs", "2", "--batch", "256", "--save", "\(folder)/whole.safetensors"])
        wait(resumed)
        wait(whole)
        XCTAssertEqual(resumed.terminationStatus, 0, errors("resumed"))
        XCTAssertEqual(whole.terminationStatus, 0, errors("whole"))
        XCTAssertTrue(output("resumed").contains("resuming from \(checkpoints)/checkpoint-"), output("resumed"))
        XCTAssertEqual(accuracy(output("resumed")), accuracy(output("whole")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/resumed.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: "\(folder)/whole.safetensors")))

        // A fresh run into a folder of checkpoints is refused, as the coordinator's is.
        let fresh = try Run.dptrain(["train", "--epochs", "1", "--checkpoint", checkpoints], timeLimit: 60)
        XCTAssertEqual(fresh.status, 78, fresh.errors)
        XCTAssertTrue(fresh.errors.contains("already holds checkpoints of a run; pass --resume"), fresh.errors)
    }
}
