import Foundation
import XCTest

/// `dptrain launch` as its supervisor: a killed worker or coordinator is started again and the
/// run finishes; Ctrl-C stops everything with status 130.
final class LaunchSupervisionTests: ProcessTestCase {
    /// The pids of the launch's children whose command line is `dptrain <role> ...`.
    func children(of launch: Process, role: String) -> [pid_t] {
        let launchPID = launch.processIdentifier
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
                  pid_t(fields[1]) == launchPID,
                  let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return commandLine.split(separator: 0).dropFirst().first.map { String(decoding: $0, as: UTF8.self) } == role
        }
    }

    func events(_ metrics: [[String: Any]], _ name: String) -> [[String: Any]] {
        metrics.filter { $0["event"] as? String == name }
    }

    /// launch --workers 3; one worker gets SIGKILL after the first epoch. The launch starts it
    /// again, the coordinator trains on and takes the new worker in, and the run ends as a clean one would.
    func testKilledWorkerIsRestartedAndTheRunFinishes() throws {
        let metricsPath = "\(folder)/launch.jsonl"
        let launch = try start("launch", ["launch", "--workers", "3", "--batch", "96", "--shards", "3", "--epochs", "3",
                                          "--step-deadline", "2", "--metrics", metricsPath])
        waitUntil("the first epoch") { errors("launch").contains("[coordinator] epoch 1 ") }
        let workers = children(of: launch, role: "worker")
        XCTAssertEqual(workers.count, 3, errors("launch"))
        let victim = try XCTUnwrap(workers.first)
        kill(victim, SIGKILL)
        wait(launch)

        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        XCTAssertGreaterThanOrEqual(accuracy(output("launch").replacingOccurrences(of: "[coordinator] ", with: "")) ?? 0, 0.97, output("launch"))
        XCTAssertTrue(errors("launch").contains(" was killed by SIGKILL: restarted it as pid "), errors("launch"))
        XCTAssertTrue(errors("launch").contains("(restart 1 of 3)"), errors("launch"))
        let metrics = try self.metrics(metricsPath)
        let epochs = events(metrics, "epoch")
        XCTAssertEqual(epochs.map { $0["samples"] as? Int }, [60_000, 60_000, 60_000])
        XCTAssertTrue(epochs.allSatisfy { ($0["train_loss"] as? Double).map { $0 > 0 && $0 < 1 } ?? false }, "\(epochs)")
        // The coordinator's view of the restart: the old worker lost, the new one joined.
        XCTAssertEqual(events(metrics, "worker_lost").count, 1, "\(metrics)")
        XCTAssertEqual(events(metrics, "worker_joined").count, 1, "\(metrics)")
    }

    /// The coordinator gets SIGKILL after its first checkpoint: the launch starts it again with
    /// --resume, the workers rejoin it, and the run finishes with status 0.
    func testKilledCoordinatorIsRestartedWithResume() throws {
        let checkpoints = "\(folder)/checkpoints"
        let metricsPath = "\(folder)/resume.jsonl"
        let launch = try start("resume", ["launch", "--workers", "2", "--batch", "64", "--epochs", "2",
                                          "--checkpoint", checkpoints, "--checkpoint-every", "150", "--metrics", metricsPath])
        waitUntil("the first checkpoint") {
            FileManager.default.fileExists(atPath: "\(checkpoints)/checkpoint-0000000150.dpck")
        }
        let coordinator = try XCTUnwrap(children(of: launch, role: "coordinator").first)
        kill(coordinator, SIGKILL)
        wait(launch)

        XCTAssertEqual(launch.terminationStatus, 0, errors("resume"))
        XCTAssertTrue(errors("resume").contains("[launch] coordinator was killed by SIGKILL: restarted it as pid"), errors("resume"))
        XCTAssertTrue(errors("resume").contains("[coordinator] resumed from"), errors("resume"))
        XCTAssertTrue(output("resume").contains("[coordinator] done: test accuracy"), output("resume"))
        // The restarted coordinator appends to the first one's metrics: its resume is an event there.
        let metrics = try self.metrics(metricsPath)
        XCTAssertEqual(events(metrics, "resumed").count, 1, "\(metrics)")
        XCTAssertGreaterThanOrEqual(events(metrics, "resumed").first?["step"] as? Int ?? 0, 150)
        XCTAssertEqual(events(metrics, "done").count, 1)
    }

    /// Ctrl-C (SIGINT to the launch) stops every process; the launch exits 130 within seconds.
    func testInterruptExitsWith130() throws {
        let launch = try start("interrupted", ["launch", "--workers", "1", "--epochs", "100"])
        waitUntil("the first epoch") { errors("interrupted").contains("[coordinator] epoch 1 ") }
        let pids = children(of: launch, role: "coordinator") + children(of: launch, role: "worker")
        XCTAssertEqual(pids.count, 2)
        kill(launch.processIdentifier, SIGINT)
        wait(launch, seconds: 15)
        XCTAssertEqual(launch.terminationStatus, 130, errors("interrupted"))
        XCTAssertTrue(errors("interrupted").contains("[launch] SIGINT received: stopping every process"), errors("interrupted"))
        for pid in pids { XCTAssertNotEqual(kill(pid, 0), 0, "pid \(pid) outlived the launch") }
    }
}
