import Foundation
import XCTest
import ZMQ

/// What --verbose adds to a coordinator's log for a person debugging a run.
final class VerboseProcessTests: ProcessTestCase {
    func testVerboseShowsShardsSlowStepsAndEveryDrop() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--batch", "256",
                                                    "--epochs", "2", "--hidden", "16", "--verbose"])
        // 22 messages that are not the protocol: 20 are logged as warnings, and the rest at debug.
        let context = try Context()
        let stranger = try Socket(context, .dealer)
        try stranger.connect(endpoint)
        for _ in 0..<22 { _ = try stranger.send(copying: [Array("junk".utf8)]) }
        waitUntil("the junk to be dropped") { errors("coordinator").components(separatedBy: "dropped").count > 22 }

        let worker = try start("worker", ["worker", "--connect", endpoint])
        waitUntil("training to start") { errors("coordinator").contains("training with 1 worker:") }
        // A worker stopped for 0.3 s makes a step wait that long: slow, whether or not it is the first.
        kill(worker.processIdentifier, SIGSTOP)
        Thread.sleep(forTimeInterval: 0.3)
        kill(worker.processIdentifier, SIGCONT)
        wait(coordinator)
        wait(worker, seconds: 10)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))

        let log = errors("coordinator").split(separator: "\n").map(String.init)
        XCTAssertEqual(log.filter { $0.hasPrefix("coordinator: warning: dropped ") }.count, 20, log.joined(separator: "\n"))
        XCTAssertTrue(log.contains { $0.hasPrefix("coordinator: warning: dropping more messages like that (") && $0.hasSuffix(") without logging each; --verbose logs each") },
                      log.joined(separator: "\n"))
        XCTAssertEqual(log.filter { $0 == "coordinator: dropped a message of 1 frame, the protocol has 3" }.count, 2, log.joined(separator: "\n"))
        XCTAssertTrue(log.contains { $0.hasPrefix("coordinator: worker 1 (") && $0.hasSuffix(") receives 60,000 samples") },
                      log.joined(separator: "\n"))
        XCTAssertTrue(log.contains { $0.hasPrefix("coordinator: step ") && $0.contains(" ms for its gradients (the epoch's ") },
                      log.joined(separator: "\n"))
    }

    func testLaunchPassesVerboseOn() throws {
        let launch = try start("launch", ["launch", "--workers", "1", "--epochs", "1", "--hidden", "16", "--verbose"])
        wait(launch)
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        XCTAssertTrue(errors("launch").contains(") receives 60,000 samples\n"), errors("launch"))
    }
}
