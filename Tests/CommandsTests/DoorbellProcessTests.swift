import Foundation
import XCTest

/// The same-host doorbell's faults with real processes: the pipes' other end killed.
final class DoorbellProcessTests: ProcessTestCase {
    /// CPU seconds (user and system) process `pid` has used, from /proc/PID/stat.
    /// The scheduler's state of a process's main thread ("S" sleeping, "R" running or runnable).
    func mainThreadState(_ pid: Int32) throws -> String {
        let stat = try String(contentsOfFile: "/proc/\(pid)/task/\(pid)/stat", encoding: .utf8)
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields = stat[stat.index(after: try XCTUnwrap(stat.lastIndex(of: ")")))...].split(separator: " ")
        return String(fields[0])
    }

    /// The coordinator SIGKILLed mid-run: its worker on the same host reads end of file on its
    /// step pipe and starts over at once (reconnect, hello) instead of waiting out the
    /// coordinator's silence (60 s here), and it does not spin on the pipe at end of file.
    func testAWorkerSeesItsCoordinatorKilledAtOnceAndDoesNotSpin() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--batch", "64", "--epochs", "20",
                                                    "--step-deadline", "60"])
        let worker = try start("worker", ["worker", "--connect", endpoint])
        waitUntil("the worker to join") { errors("coordinator").contains("through shared memory") }
        waitUntil("a few steps") { errors("worker").contains("holding") }
        Thread.sleep(forTimeInterval: 1)
        XCTAssertTrue(worker.isRunning, errors("worker"))
        kill(coordinator.processIdentifier, SIGKILL)
        coordinator.waitUntilExit()
        // Well inside the 60 s silence the worker would otherwise wait.
        waitUntil(seconds: 15, "the worker to notice") { errors("worker").contains("lost the coordinator") }
        XCTAssertTrue(worker.isRunning, errors("worker"))
        // A thread that spins on a pipe at end of file never sleeps, however busy the machine; one
        // that waits in poll for its next hello is seen asleep (no timing is measured).
        var states: [String] = []
        for _ in 0..<40 where !states.contains("S") {
            states.append(try mainThreadState(worker.processIdentifier))
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(states.contains("S"), "the worker's main thread was never seen asleep without a coordinator: \(states)")
        worker.terminate()
        worker.waitUntilExit()
    }
}
