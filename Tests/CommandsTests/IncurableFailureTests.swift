import Foundation
import XCTest

/// Failures that a restart cannot cure exit with their own status (`ExitStatus`), and launch
/// stops on them at once, saying the child's message once instead of once a restart.
final class IncurableFailureTests: XCTestCase {
    let folder = NSTemporaryDirectory() + "dptrain-incurable-\(UUID().uuidString)"
    override func setUpWithError() throws { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    /// A resume with --hidden 64 against a checkpoint of 128: 78, said once, no restart.
    func testAResumeWithOtherFlagsStopsLaunchAtOnce() throws {
        let checkpoints = folder + "/checkpoints"
        let first = try Run.dptrain(["launch", "--workers", "1", "--epochs", "1", "--checkpoint", checkpoints], timeLimit: 120)
        XCTAssertEqual(first.status, 0, first.errors)
        let resumed = try Run.dptrain(["launch", "--workers", "1", "--epochs", "1", "--hidden", "64", "--checkpoint", checkpoints, "--resume"],
                                      timeLimit: 120)
        XCTAssertEqual(resumed.status, 78, resumed.errors)
        XCTAssertEqual(resumed.errors.components(separatedBy: "it was written with other flags").count - 1, 1, resumed.errors)
        XCTAssertTrue(resumed.errors.contains("[launch] coordinator exited with status 78, which a restart cannot cure"), resumed.errors)
        XCTAssertFalse(resumed.errors.contains("restarted it"), resumed.errors)
    }
}
