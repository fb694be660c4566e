import ArgumentParser
import Foundation
import XCTest
@testable import Commands
import Supervision

/// `dptrain launch`: what it passes to the coordinator, and the flags it refuses before starting anything.
final class LaunchTests: XCTestCase {
    func testCoordinatorGetsEveryFlagButTheLaunchersOwn() {
        let typed = ["--workers", "4", "--epochs", "1", "--bind=ipc:///tmp/x.sock", "--hidden", "512,256",
                     "--workers=2", "--lr=0.05", "--bind", "tcp://*:5555", "--no-bias", "--max-restarts", "5",
                     "--save", "model.safetensors", "--max-restarts=0"]
        XCTAssertEqual(LaunchCommand.coordinatorFlags(fromLaunchArguments: typed),
                       ["--epochs", "1", "--hidden", "512,256", "--lr=0.05", "--no-bias", "--save", "model.safetensors"])
        XCTAssertEqual(LaunchCommand.argumentsAfterLaunch(["/usr/bin/dptrain", "launch", "--workers", "2", "--data", "launch"]),
                       ["--workers", "2", "--data", "launch"])
    }

    func testBadFlagsAreRefusedBeforeAnyProcessStarts() {
        func message(_ arguments: [String]) -> String {
            do {
                _ = try LaunchCommand.parse(arguments)
                return "accepted"
            } catch {
                return LaunchCommand.message(for: error)
            }
        }
        XCTAssertEqual(message(["--workers", "0"]), "--workers must be between 1 and 256 (got 0)")
        XCTAssertEqual(message(["--workers", "257"]), "--workers must be between 1 and 256 (got 257)")
        XCTAssertEqual(message(["--workers", "2", "--max-restarts=-1"]), "--max-restarts must be 0 or more (got -1)")
        XCTAssertEqual(message(["--workers", "2", "--epochs", "0"]), "--epochs must be at least 1 (got 0)")
        XCTAssertEqual(message(["--workers", "2", "--activation", "swish"]),
                       "The value 'swish' is invalid for '--activation <activation>'. Please provide one of 'relu', 'sigmoid' or 'tanh'.")
        XCTAssertEqual(message(["--epochs", "1"]), "Missing expected argument '--workers <workers>'")
        XCTAssertEqual(message(["--workers", "2", "--preset", "seed", "--metrics", "m.jsonl", "--data", "d"]), "accepted")
    }

    func testHelpListsTheTrainingFlags() {
        let help = LaunchCommand.helpMessage()
        for flag in ["--workers", "--bind", "--epochs", "--hidden", "--optimizer", "--data", "--metrics", "--save", "--no-bias"] {
            XCTAssertTrue(help.contains(flag), "\(flag) missing from\n\(help)")
        }
    }

    /// The coordinator's --wire-precision says what bf16 halves: both ways, the gradients' sums on a coarser grid.
    func testHelpSaysBF16HalvesBothWays() {
        let help = CoordinatorCommand.helpMessage(columns: 1000)
        XCTAssertTrue(help.contains("half the bytes both ways"), help)
        XCTAssertFalse(help.contains("does not halve"), help)
    }

    func testExitStatusIsTheCoordinators() {
        XCTAssertEqual(LaunchCommand.exitStatus([("coordinator", .exited(0)), ("worker 1", .exited(0))]), 0)
        XCTAssertEqual(LaunchCommand.exitStatus([("coordinator", .exited(2)), ("worker 1", .exited(0))]), 2)
        XCTAssertEqual(LaunchCommand.exitStatus([("coordinator", .signalled(SIGTERM)), ("worker 1", .exited(1))]), 143)
        // Stopped after the coordinator had finished: the run still succeeded.
        XCTAssertEqual(LaunchCommand.exitStatus([("coordinator", .exited(0)), ("worker 1", .signalled(SIGTERM))]), 0)
        XCTAssertEqual(LaunchCommand.exitStatus([("coordinator", .exited(0)), ("worker 1", .exited(1))]), 1)
    }
}
