import Foundation
import Wire
import XCTest
import ZMQ

/// The faults a chaos run found, each as it happened: real processes over tcp loopback.
final class ChaosFaultTests: ProcessTestCase {
    func events(_ metrics: [[String: Any]], _ name: String) -> [[String: Any]] {
        metrics.filter { $0["event"] as? String == name }
    }

    /// A peer that says hello and then never reads anything.
    func deafPeer(_ endpoint: String, context: Context) throws -> Socket {
        let socket = try Socket(context, .dealer)
        try socket.set(.receiveHighWaterMark, 1)
        try socket.set(.receiveBufferSize, 4096)
        try socket.set(.linger, 0)
        try socket.connect(endpoint)
        var encoder = MessageEncoder()
        // It names no BLAS core, and accepts the run's: a worker on other kernels is refused otherwise.
        try encoder.hello(Hello(host: "deaf peer", acceptsOtherKernels: true))
        _ = try encoder.withFrames { try socket.send($0) }
        return socket
    }

    /// Worker A is killed (its shard of 30,000 samples is shipped to B) and B is stopped; a peer
    /// that never reads joins. No send may block the coordinator: B and the deaf peer are lost by
    /// the rules (deadline or full queue), a fresh worker finishes the run, every epoch trains
    /// every sample once. Before the fix the coordinator froze in a send for good.
    func testFrozenWorkerAndDeafPeerCannotFreezeTheCoordinator() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("frozen", ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "64", "--epochs", "2",
                                               "--step-deadline", "30", "--metrics", "\(folder)/frozen.jsonl"])
        let a = try start("frozen-a", ["worker", "--connect", endpoint])
        let b = try start("frozen-b", ["worker", "--connect", endpoint])
        waitUntil("the first steps") { errors("frozen").contains("training with 2 worker") }
        Thread.sleep(forTimeInterval: 0.3)
        kill(a.processIdentifier, SIGKILL)
        kill(b.processIdentifier, SIGSTOP)
        let context = try Context()
        let deaf = try deafPeer(endpoint, context: context)
        waitUntil(seconds: 45, "the stopped worker to be lost") { errors("frozen").components(separatedBy: "lost at step").count - 1 >= 2 }
        let fresh = try start("frozen-c", ["worker", "--connect", endpoint])
        wait(coordinator, seconds: 90)
        wait(fresh, seconds: 20)
        kill(b.processIdentifier, SIGKILL)
        _ = deaf
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("frozen"))
        XCTAssertEqual(fresh.terminationStatus, 0, errors("frozen-c"))
        let metrics = try self.metrics("\(folder)/frozen.jsonl")
        XCTAssertEqual(events(metrics, "epoch").map { $0["samples"] as? Int }, [60_000, 60_000])
        // The deaf peer never even sends a heartbeat: as a joining member it is lost as silent.
        let reasons = Set(events(metrics, "worker_lost").compactMap { $0["reason"] as? String })
        XCTAssertTrue(reasons.isSubset(of: ["connection_gone", "deadline", "not_reading", "silent"]), "\(reasons)")
        XCTAssertGreaterThanOrEqual(events(metrics, "worker_lost").count, 3)
        XCTAssertGreaterThanOrEqual(accuracy(output("frozen")) ?? 0, 0.95)
    }

    /// A worker that joined after the last checkpoint is stopped across the coordinator's
    /// restart, and a newcomer joins meanwhile: both train after the resume, and every
    /// process has ended once the run has. Before the fix the newcomer took the returning
    /// worker's id, which was refused for the rest of the run and kept running after it.
    func testResumeGivesLateWorkerAndNewcomerEachAPlace() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let arguments = ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "64", "--epochs", "3",
                         "--step-deadline", "2", "--checkpoint", "\(folder)/collide", "--metrics", "\(folder)/collide.jsonl"]
        let first = try start("collide-1", arguments)
        let workers = try (1...2).map { try start("collide-w\($0)", ["worker", "--connect", endpoint]) }
        waitUntil("the first checkpoint") { errors("collide-1").contains("checkpoint at step") }
        let late = try start("collide-late", ["worker", "--connect", endpoint])
        waitUntil("the late worker to take part") { errors("collide-1").contains("takes part from step") }
        kill(late.processIdentifier, SIGSTOP)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let second = try start("collide-2", arguments + ["--resume"])
        waitUntil("the resumed run to train") { errors("collide-2").contains("training with") }
        let newcomer = try start("collide-new", ["worker", "--connect", endpoint])
        waitUntil("the newcomer to take part") { errors("collide-2").contains("takes part from step") }
        kill(late.processIdentifier, SIGCONT)
        wait(second, seconds: 120)
        for process in workers + [late, newcomer] { wait(process, seconds: 15) }
        XCTAssertEqual(second.terminationStatus, 0, errors("collide-2"))
        XCTAssertEqual((workers + [late, newcomer]).map(\.terminationStatus), [0, 0, 0, 0])
        // Both joined the resumed run and trained in it.
        for name in ["collide-late", "collide-new"] {
            XCTAssertTrue(errors(name).contains("training is done"), "\(name): \(errors(name))")
        }
        XCTAssertEqual(errors("collide-late").components(separatedBy: "joined as worker").count - 1, 2, errors("collide-late"))
        XCTAssertFalse(errors("collide-late").contains("refused"), errors("collide-late"))
    }

    /// The end of the run reaches every worker even when most shutdown messages are lost:
    /// the coordinator sends it again until each worker acknowledges. Before the fix a worker
    /// that missed the one shutdown kept trying to rejoin a coordinator that had finished.
    func testShutdownReachesWorkersOverALossyLink() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("lossy", ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "128", "--epochs", "1"])
        let workers = try (1...2).map {
            try start("lossy-w\($0)", ["worker", "--connect", endpoint], environment: ["DPTRAIN_TEST_DROP_SHUTDOWN": "0.6"])
        }
        wait(coordinator)
        for worker in workers { wait(worker, seconds: 15) }
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("lossy"))
        XCTAssertEqual(workers.map(\.terminationStatus), [0, 0], errors("lossy-w1") + errors("lossy-w2"))
        XCTAssertTrue(errors("lossy-w1").contains("training is done"), errors("lossy-w1"))
    }

    /// The coordinator and one of its two workers die together; the coordinator is restarted
    /// with the same flags (--workers 2) and --resume. It waits for the dead worker a while,
    /// then finishes the run with the one that came back. Before the fix it waited for a
    /// second worker for good (seen in 3 of 8 chaos seeds).
    func testResumeGoesOnWithoutAWorkerThatDiedWithTheCoordinator() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let arguments = ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "64", "--epochs", "2",
                         "--checkpoint", "\(folder)/bereft", "--metrics", "\(folder)/bereft.jsonl"]
        let first = try start("bereft-1", arguments)
        let workers = try (1...2).map { try start("bereft-w\($0)", ["worker", "--connect", endpoint]) }
        waitUntil("the first checkpoint") { errors("bereft-1").contains("checkpoint at step") }
        kill(workers[1].processIdentifier, SIGKILL)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let second = try start("bereft-2", arguments + ["--resume"])
        wait(second, seconds: 90)
        wait(workers[0], seconds: 15)
        XCTAssertEqual(second.terminationStatus, 0, errors("bereft-2"))
        XCTAssertTrue(errors("bereft-2").contains("training with 1 worker:"), errors("bereft-2"))
        XCTAssertEqual(workers[0].terminationStatus, 0, errors("bereft-w1"))
        let epochs = events(try metrics("\(folder)/bereft.jsonl"), "epoch")
        XCTAssertEqual(epochs.compactMap { $0["epoch"] as? Int }, [1, 2])
        XCTAssertEqual(epochs.compactMap { $0["samples"] as? Int }, [60_000, 60_000])
    }

    /// SIGTERM to the coordinator (a scheduler's preemption): it finishes the step, writes a
    /// checkpoint and the model, tells the workers, and exits 0; --resume finishes the run.
    func testTerminatedCoordinatorKeepsItsWorkAndResumes() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let arguments = ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "64", "--epochs", "2",
                         "--checkpoint", "\(folder)/preempted", "--checkpoint-every", "1000",
                         "--save", "\(folder)/preempted.safetensors", "--metrics", "\(folder)/preempted.jsonl"]
        let first = try start("preempted-1", arguments)
        let workers = try (1...2).map { try start("preempted-w\($0)", ["worker", "--connect", endpoint]) }
        waitUntil("the first epoch") { errors("preempted-1").contains("epoch 1 ") }
        first.terminate()
        wait(first, seconds: 20)
        for worker in workers { wait(worker, seconds: 15) }
        XCTAssertEqual(first.terminationStatus, 0, errors("preempted-1"))
        XCTAssertTrue(output("preempted-1").contains("stopped by signal 15 at step"), output("preempted-1"))
        XCTAssertTrue(output("preempted-1").contains("wrote checkpoint"), output("preempted-1"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(folder)/preempted.safetensors"))
        XCTAssertEqual(workers.map(\.terminationStatus), [0, 0])

        let second = try start("preempted-2", arguments + ["--resume"])
        let again = try (1...2).map { try start("preempted-again\($0)", ["worker", "--connect", endpoint]) }
        wait(second)
        for worker in again { wait(worker, seconds: 15) }
        XCTAssertEqual(second.terminationStatus, 0, errors("preempted-2"))
        XCTAssertGreaterThanOrEqual(accuracy(output("preempted-2")) ?? 0, 0.96, output("preempted-2"))
        // One history: what the first coordinator wrote is still there, then the resume.
        let metrics = try self.metrics("\(folder)/preempted.jsonl")
        XCTAssertEqual(metrics.compactMap { $0["event"] as? String }.filter { ["epoch", "resumed", "done"].contains($0) },
                       ["epoch", "resumed", "epoch", "done"])
    }
}
