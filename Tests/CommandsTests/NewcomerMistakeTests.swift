import Foundation
import XCTest

/// Mistakes a newcomer makes on purpose, each answered with one line that says what was meant,
/// and a non-zero status, before anything trains.
final class NewcomerMistakeTests: XCTestCase {
    func errorLine(_ run: Run) -> String { run.errors.split(separator: "\n").first.map(String.init) ?? "" }

    func testAMistypedCommandSuggestsTheNearestOne() throws {
        for (typed, meant) in [("tran", "train"), ("evalute", "evaluate"), ("lanch", "launch")] {
            let run = try Run.dptrain([typed], timeLimit: 30)
            XCTAssertEqual(run.status, 64, run.errors)
            XCTAssertEqual(errorLine(run), "Error: '\(typed)' is not a dptrain command: did you mean `dptrain \(meant)`? (dptrain --help lists them)")
        }
    }

    func testATrainingFlagGivenToAWorkerSaysItIsTheCoordinators() throws {
        for arguments in [["worker", "--epochs", "5", "--connect", "ipc:///tmp/nowhere"], ["worker", "--connect", "ipc:///tmp/nowhere", "--batch=64"]] {
            let run = try Run.dptrain(arguments, timeLimit: 30)
            let flag = arguments.contains("--epochs") ? "--epochs" : "--batch"
            XCTAssertEqual(run.status, 64, run.errors)
            XCTAssertEqual(errorLine(run), "Error: \(flag) is a training flag: give it to the coordinator (or to dptrain launch); a worker takes "
                                           + "the run's configuration from its coordinator (see dptrain worker --help for a worker's flags)")
        }
        // A flag nobody takes is still ArgumentParser's own error.
        XCTAssertTrue(try Run.dptrain(["worker", "--bogus", "--connect", "ipc:///tmp/nowhere"], timeLimit: 30).errors.hasPrefix("Error: Unknown option '--bogus'"))
    }

    /// A batch larger than the training set would have trained one step an epoch without a word.
    func testABatchLargerThanTheTrainingSetIsRefused() throws {
        let run = try Run.dptrain(["train", "--batch", "100000"], timeLimit: 60)
        XCTAssertEqual(run.status, 65, run.errors)
        XCTAssertTrue(run.errors.contains("Error: --batch 100000 is more than the 60000 training samples: every epoch would be one step "
                                          + "over the whole set; give --batch 60000 or less"), run.errors)
        XCTAssertFalse(run.output.contains("done:"), run.output)
    }
}
