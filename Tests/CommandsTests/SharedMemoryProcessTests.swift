import Foundation
import XCTest

/// The same-host bulk transport with real processes: workers with and without shared memory
/// in one run, one of them SIGKILLed, and nothing left behind.
final class SharedMemoryProcessTests: ProcessTestCase {
    /// Everything in /dev/shm, where a named segment would be.
    func sharedMemoryEntries() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm"))
    }

    /// Two workers through shared memory and one (--shared-memory off) over the socket train
    /// together; one of the shared-memory workers is SIGKILLed mid-epoch. The run finishes
    /// at a normal accuracy, and /dev/shm holds exactly what it held before, throughout.
    func testMixedWorkersTrainAndAKilledOneLeavesNothingBehind() throws {
        let before = try sharedMemoryEntries()
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "3", "--batch", "192", "--shards", "6", "--epochs", "2",
                                                    "--step-deadline", "2", "--metrics", "\(folder)/run.jsonl"])
        let shared = try start("shared", ["worker", "--connect", endpoint])
        let socket = try start("socket", ["worker", "--connect", endpoint, "--shared-memory", "off"])
        let killed = try start("killed", ["worker", "--connect", endpoint])
        waitUntil("the first epoch") { errors("coordinator").contains("epoch 1 ") }
        XCTAssertEqual(try sharedMemoryEntries(), before, "a segment appeared in /dev/shm")
        kill(killed.processIdentifier, SIGKILL)
        wait(coordinator)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        wait(shared)
        wait(socket)
        XCTAssertEqual(shared.terminationStatus, 0, errors("shared"))
        XCTAssertEqual(socket.terminationStatus, 0, errors("socket"))

        let log = errors("coordinator")
        let joins = log.split(separator: "\n").filter { $0.contains(" joined") }
        XCTAssertEqual(joins.count, 3, log)
        XCTAssertEqual(joins.filter { $0.contains(", weights and gradients through shared memory") }.count, 2, log)
        XCTAssertTrue(log.contains("lost at step"), log)
        let accuracy = try XCTUnwrap(self.accuracy(output("coordinator")), output("coordinator") + log)
        XCTAssertGreaterThanOrEqual(accuracy, 0.95)
        let epochs = try metrics("\(folder)/run.jsonl").filter { $0["event"] as? String == "epoch" }
        XCTAssertEqual(epochs.map { $0["samples"] as? Int }, [60_000, 60_000])
        XCTAssertEqual(try sharedMemoryEntries(), before, "a segment was left in /dev/shm")
    }

    /// A worker of another user on the coordinator's host cannot open the coordinator's memory
    /// files (the kernel lets only the same user through /proc/PID/fd): it is offered none, and
    /// trains over the socket in the same run as a worker that shares memory.
    func testAWorkerOfAnotherUserOnThisHostTrainsOverTheSocket() throws {
        guard geteuid() == 0 else { throw XCTSkip("running a worker as another user needs root") }
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "64", "--epochs", "1"])
        let same = try start("same", ["worker", "--connect", endpoint])
        let other = try start("other", ["worker", "--connect", endpoint], user: "65534")
        wait(coordinator, seconds: 60)
        wait(same)
        wait(other)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(same.terminationStatus, 0, errors("same"))
        XCTAssertEqual(other.terminationStatus, 0, errors("other"))
        let joins = errors("coordinator").split(separator: "\n").filter { $0.contains(" joined") }
        XCTAssertEqual(joins.count, 2, errors("coordinator"))
        XCTAssertEqual(joins.filter { $0.contains("through shared memory") }.count, 1, errors("coordinator"))
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(accuracy(output("coordinator")), errors("coordinator")), 0.9)
    }
}
