import Foundation
import XCTest

/// What a coordinator says while it waits for workers, and what --resume does with a
/// finished run, changed flags and a longer run.
final class ResumeAndWaitTests: ProcessTestCase {
    func coordinator(_ name: String, _ endpoint: String, _ extra: [String] = []) throws -> Process {
        try start(name, ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "128", "--epochs", "1",
                         "--checkpoint", "\(folder)/checkpoints"] + extra)
    }

    /// One finished run of one epoch in `folder`/checkpoints; returns its output.
    func finishedRun(_ endpoint: String) throws -> String {
        let first = try coordinator("first", endpoint)
        let workers = try (1...2).map { try start("worker\($0)", ["worker", "--connect", endpoint]) }
        // The coordinator counts its workers as they come.
        waitUntil("the first worker to be counted") { errors("first").contains("of 2 workers joined (worker") }
        wait(first)
        for worker in workers { wait(worker, seconds: 15) }
        XCTAssertEqual(first.terminationStatus, 0, errors("first"))
        return output("first")
    }

    func testResumingAFinishedRunReportsItsRealFigures() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let accuracy = try XCTUnwrap(self.accuracy(try finishedRun(endpoint)))
        // No worker is needed to say that the run is complete.
        let again = try coordinator("again", endpoint, ["--resume"])
        wait(again, seconds: 30)
        XCTAssertEqual(again.terminationStatus, 0, errors("again"))
        XCTAssertTrue(errors("again").contains("the run is already complete: 1 epoch"), errors("again"))
        XCTAssertEqual(self.accuracy(output("again")), accuracy, output("again"))
    }

    func testResumingWithOtherFlagsNamesEachOne() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        _ = try finishedRun(endpoint)
        let changed = try coordinator("changed", endpoint, ["--resume", "--lr", "0.05", "--seed", "9"])
        wait(changed, seconds: 30)
        XCTAssertNotEqual(changed.terminationStatus, 0)
        XCTAssertTrue(errors("changed").contains("it was written with other flags: --lr 0.05 (the checkpoint has 0.1), --seed 9 (the checkpoint has 1)"),
                      errors("changed"))
    }

    func testRaisingEpochsExtendsARun() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        _ = try finishedRun(endpoint)
        let longer = try start("longer", ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "128", "--epochs", "2",
                                          "--checkpoint", "\(folder)/checkpoints", "--resume"])
        let workers = try (1...2).map { try start("longer-worker\($0)", ["worker", "--connect", endpoint]) }
        wait(longer)
        for worker in workers { wait(worker, seconds: 15) }
        XCTAssertEqual(longer.terminationStatus, 0, errors("longer"))
        XCTAssertTrue(errors("longer").contains("extending the run from 1 to 2 epochs"), errors("longer"))
        XCTAssertTrue(output("longer").contains("after 2 epochs"), output("longer"))
    }
}

/// A worker whose coordinator is not there says why, every few seconds, with the time left.
final class WorkerWaitTests: ProcessTestCase {
    /// Starts a worker at `endpoint` that gives up after 20 s; returns its first explanation line.
    func explanation(_ name: String, connectingTo endpoint: String) throws -> String {
        let worker = try start(name, ["worker", "--connect", endpoint, "--give-up-after", "20"])
        waitUntil(seconds: 10, "the worker to explain its wait") { errors(name).contains("giving up in") }
        worker.terminate()
        wait(worker, seconds: 10)
        return errors(name).split(separator: "\n").first { $0.contains("giving up in") }.map(String.init) ?? errors(name)
    }

    /// The worker's own clock says when: its first explanation comes after one second of waiting.
    func testNothingListeningIsExplainedWithinSeconds() throws {
        let line = try explanation("refused", connectingTo: "tcp://127.0.0.1:\(try freePort())")
        XCTAssertTrue(line.contains("after 1 s: connection refused: nothing listens on 127.0.0.1 port"), line)
        XCTAssertTrue(line.hasSuffix("giving up in 19 s"), line)
    }

    func testAnUnknownHostIsExplained() throws {
        let line = try explanation("unresolved", connectingTo: "tcp://no-such-host.invalid:5555")
        XCTAssertTrue(line.contains("the name no-such-host.invalid does not resolve"), line)
    }

    func testAMissingSocketFileIsExplained() throws {
        let line = try explanation("missing", connectingTo: "ipc://\(folder)/nothing.sock")
        XCTAssertTrue(line.contains("no socket file at \(folder)/nothing.sock"), line)
    }
}
