import Foundation
import XCTest

/// The same-host doorbell's faults with real processes: the pipes' other end killed.
final class DoorbellProcessTests: ProcessTestCase {
    /// CPU seconds (user and system) process `pid` has used, from /proc/PID/stat.
    func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields = stat[stat.index(after: try XCTUnwrap(stat.lastIndex(of: ")")))...].split(separator: " ")
        let ticks = try XCTUnwrap(Double(fields[11])) + XCTUnwrap(Double(fields[12]))   // utime, stime
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
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
        let before = try cpuSeconds(worker.processIdentifier)
        Thread.sleep(forTimeInterval: 2)
        let used = try cpuSeconds(worker.processIdentifier) - before
        XCTAssertLessThan(used, 0.5, "the worker spun for \(used) CPU seconds in 2 s without a coordinator")
        worker.terminate()
        worker.waitUntilExit()
    }
}
