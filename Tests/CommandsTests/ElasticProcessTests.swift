import Foundation
import XCTest

/// Workers that die, hang, leave and join, and a coordinator that dies and comes back:
/// real processes over tcp loopback.
final class ElasticProcessTests: ProcessTestCase {
    let deadline = 2.0

    /// Three workers train three epochs at a global batch of 192 (6 shards, 2 per worker); `during`
    /// runs once the coordinator has printed its first epoch. Returns the coordinator's accuracy
    /// and metrics; the model is saved as NAME.safetensors in the test's folder.
    func threeWorkerRun(_ name: String, during: (([Process], String) throws -> Void)? = nil)
        throws -> (accuracy: Double, metrics: [[String: Any]], workers: [Process]) {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start(name, ["coordinator", "--bind", endpoint, "--workers", "3", "--batch", "192", "--shards", "6",
                                           "--step-deadline", String(deadline), "--metrics", "\(folder)/\(name).jsonl",
                                           "--save", "\(folder)/\(name).safetensors"])
        let workers = try (1...3).map { try start("\(name)-worker\($0)", ["worker", "--connect", endpoint]) }
        if let during {
            waitUntil("the first epoch of \(name)") { errors(name).contains("epoch 1 ") }
            try during(workers, endpoint)
        }
        wait(coordinator)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors(name))
        let accuracy = try XCTUnwrap(self.accuracy(output(name)), output(name) + errors(name))
        return (accuracy, try metrics("\(folder)/\(name).jsonl"), workers)
    }

    /// The model `dptrain train` saves with `arguments`: what every distributed run with the same
    /// flags must save, to the bit, whoever comes and goes.
    func singleProcessModel(_ arguments: [String]) throws -> Data {
        let name = "single"
        let process = try start(name, ["train"] + arguments + ["--save", "\(folder)/\(name).safetensors"])
        wait(process)
        XCTAssertEqual(process.terminationStatus, 0, errors(name))
        return try model(name)
    }

    func model(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name).safetensors")) }

    func events(_ metrics: [[String: Any]], _ name: String) -> [[String: Any]] {
        metrics.filter { $0["event"] as? String == name }
    }

    /// Every epoch trains every sample once, whoever came and went.
    func assertEverySampleOncePerEpoch(_ metrics: [[String: Any]], file: StaticString = #filePath, line: UInt = #line) {
        let epochs = events(metrics, "epoch")
        XCTAssertEqual(epochs.count, 3, file: file, line: line)
        XCTAssertEqual(epochs.map { $0["samples"] as? Int }, [60_000, 60_000, 60_000], file: file, line: line)
    }

    /// One of three workers is SIGKILLed in the middle of an epoch: the log names it, and
    /// training ends with the model of an uninterrupted run, and of one process, to the bit.
    func testKilledWorkerIsLostAndTrainingFinishes() throws {
        let clean = try threeWorkerRun("clean")
        let killed = try threeWorkerRun("killed") { workers, _ in
            Thread.sleep(forTimeInterval: 0.1)
            kill(workers[1].processIdentifier, SIGKILL)
        }
        XCTAssertEqual(killed.accuracy, clean.accuracy)
        XCTAssertEqual(try model("killed"), try model("clean"), "a worker lost mid-run changed the weights")
        XCTAssertEqual(try model("clean"), try singleProcessModel(["--batch", "192", "--shards", "6"]), "three workers and one process differ")
        let lost = events(killed.metrics, "worker_lost")
        XCTAssertEqual(lost.count, 1)
        XCTAssertEqual(lost.first?["workers"] as? Int, 2)
        let id = try XCTUnwrap(lost.first?["worker"] as? Int)
        XCTAssertTrue(errors("killed").contains("worker \(id) (") && errors("killed").contains("lost at step"), errors("killed"))
        assertEverySampleOncePerEpoch(killed.metrics)
        // Found by its closed connection, not by waiting out the deadline (the time it takes is
        // measured by benchmarks/fault-tolerance.sh, not asserted here).
        XCTAssertEqual(lost.first?["reason"] as? String, "connection_gone", "\(lost)")
    }

    /// A worker that hangs (SIGSTOP) keeps its connection; the step deadline finds it out.
    func testHungWorkerIsLostAtTheStepDeadline() throws {
        var hung: Process?
        let run = try threeWorkerRun("hung") { workers, _ in
            hung = workers[2]
            kill(workers[2].processIdentifier, SIGSTOP)
        }
        if let hung { kill(hung.processIdentifier, SIGKILL) }
        let lost = events(run.metrics, "worker_lost")
        XCTAssertEqual(lost.count, 1)
        XCTAssertEqual(lost.first?["reason"] as? String, "deadline", "\(lost)")
        XCTAssertTrue((lost.first?["detail"] as? String)?.contains("within the 2.0 s deadline") ?? false, "\(lost)")
        XCTAssertGreaterThanOrEqual(run.accuracy, 0.96)
        assertEverySampleOncePerEpoch(run.metrics)
        XCTAssertEqual(try model("hung"), try singleProcessModel(["--batch", "192", "--shards", "6"]), "a hung worker changed the weights")
    }

    /// SIGTERM makes a worker finish its step, say goodbye and exit 0.
    func testTerminatedWorkerLeavesCleanly() throws {
        let run = try threeWorkerRun("terminated") { workers, _ in
            workers[0].terminate()
            self.wait(workers[0], seconds: 10)
        }
        XCTAssertEqual(run.workers[0].terminationStatus, 0, errors("terminated-worker1"))
        XCTAssertTrue(errors("terminated-worker1").contains("leaving after"), errors("terminated-worker1"))
        let lost = events(run.metrics, "worker_lost")
        XCTAssertEqual(lost.first?["reason"] as? String, "left")
        assertEverySampleOncePerEpoch(run.metrics)
        XCTAssertEqual(try model("terminated"), try singleProcessModel(["--batch", "192", "--shards", "6"]), "a worker leaving changed the weights")
    }

    /// A fourth worker started mid-run takes part: the metrics show it joining, and the
    /// model is the one process's, to the bit.
    func testFourthWorkerJoinsMidRun() throws {
        let run = try threeWorkerRun("joined") { _, endpoint in
            _ = try self.start("joined-worker4", ["worker", "--connect", endpoint])
            self.waitUntil("the fourth worker to join") { self.errors("joined").contains("takes part from step") }
        }
        let joined = events(run.metrics, "worker_joined")
        XCTAssertEqual(joined.count, 1)
        XCTAssertEqual(joined.first?["workers"] as? Int, 4)
        XCTAssertEqual(events(run.metrics, "done").first?["workers"] as? Int, 4)
        XCTAssertTrue(errors("joined-worker4").contains("holding"), errors("joined-worker4"))
        assertEverySampleOncePerEpoch(run.metrics)
        XCTAssertGreaterThanOrEqual(run.accuracy, 0.96)
        XCTAssertEqual(try model("joined"), try singleProcessModel(["--batch", "192", "--shards", "6"]), "a worker joining changed the weights")
    }

    /// The coordinator is SIGKILLed after its first checkpoint and restarted with --resume:
    /// the same workers rejoin by themselves, and the final weights are bit-identical to
    /// those of an uninterrupted run.
    func testResumedCoordinatorEndsWithBitIdenticalWeights() throws {
        func coordinatorArguments(_ endpoint: String, _ name: String) -> [String] {
            ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "64", "--epochs", "2",
             "--checkpoint", "\(folder)/\(name)-checkpoints", "--checkpoint-every", "150",
             "--save", "\(folder)/\(name).safetensors", "--metrics", "\(folder)/\(name).jsonl"]
        }
        let reference = "tcp://127.0.0.1:\(try freePort())"
        let uninterrupted = try start("uninterrupted", coordinatorArguments(reference, "uninterrupted"))
        let referenceWorkers = try (1...2).map { try start("uninterrupted-worker\($0)", ["worker", "--connect", reference]) }
        wait(uninterrupted)
        referenceWorkers.forEach { wait($0, seconds: 10) }
        XCTAssertEqual(uninterrupted.terminationStatus, 0, errors("uninterrupted"))

        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let first = try start("first", coordinatorArguments(endpoint, "resumed"))
        let workers = try (1...2).map { try start("resumed-worker\($0)", ["worker", "--connect", endpoint]) }
        waitUntil("the first checkpoint") {
            FileManager.default.fileExists(atPath: "\(folder)/resumed-checkpoints/checkpoint-0000000150.dpck")
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let second = try start("second", coordinatorArguments(endpoint, "resumed") + ["--resume"])
        wait(second)
        workers.forEach { wait($0, seconds: 10) }
        XCTAssertEqual(second.terminationStatus, 0, errors("second"))
        XCTAssertTrue(errors("second").contains("resumed from"), errors("second"))
        XCTAssertEqual(workers.map(\.terminationStatus), [0, 0])
        XCTAssertTrue(errors("resumed-worker1").contains("rejoining"), errors("resumed-worker1"))
        let history = try metrics("\(folder)/resumed.jsonl")
        let resumedEvents = events(history, "resumed")
        XCTAssertEqual(resumedEvents.count, 1)
        // One file, one history: both coordinators' run lines, the second marked as a resume, and both epochs.
        XCTAssertEqual(events(history, "run").map { $0["resumed"] as? Bool }, [false, true])
        XCTAssertEqual(events(history, "epoch").compactMap { $0["epoch"] as? Int }.suffix(2), [1, 2])
        XCTAssertGreaterThanOrEqual(resumedEvents.first?["step"] as? Int ?? 0, 150)
        // The report marks the restart and the resume on the throughput chart.
        let report = try start("report", ["report", "\(folder)/resumed.jsonl", "-o", "\(folder)/resumed.html"])
        wait(report)
        let page = try String(contentsOfFile: "\(folder)/resumed.html", encoding: .utf8)
        XCTAssertTrue(page.contains("data-marker=\"coordinator restarted\"") && page.contains("data-marker=\"resumed at step"), "markers")

        let expected = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/uninterrupted.safetensors"))
        let resumed = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/resumed.safetensors"))
        XCTAssertEqual(expected, resumed, "the resumed run's weights differ from the uninterrupted run's")
        XCTAssertEqual(expected, try singleProcessModel(["--batch", "64", "--epochs", "2"]), "two workers and one process differ")
    }

    /// The only worker is lost: the coordinator says it waits, and a new worker finishes the run.
    func testCoordinatorWaitsWhenEveryWorkerIsLost() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("alone", ["coordinator", "--bind", endpoint, "--workers", "1", "--batch", "128",
                                              "--step-deadline", "2", "--metrics", "\(folder)/alone.jsonl", "--save", "\(folder)/alone.safetensors"])
        let first = try start("alone-worker1", ["worker", "--connect", endpoint])
        waitUntil("the first epoch") { errors("alone").contains("epoch 1 ") }
        kill(first.processIdentifier, SIGKILL)
        waitUntil("the coordinator to say it waits") { errors("alone").contains("no workers left: waiting for workers to join") }
        XCTAssertTrue(coordinator.isRunning)
        let second = try start("alone-worker2", ["worker", "--connect", endpoint])
        wait(coordinator)
        wait(second, seconds: 10)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("alone"))
        XCTAssertEqual(second.terminationStatus, 0)
        let metrics = try self.metrics("\(folder)/alone.jsonl")
        assertEverySampleOncePerEpoch(metrics)
        XCTAssertEqual(events(metrics, "worker_joined").count, 1)
        XCTAssertGreaterThanOrEqual(accuracy(output("alone")) ?? 0, 0.96)
        // The step in flight when the only worker died was trained again, whole, by the next.
        XCTAssertEqual(try model("alone"), try singleProcessModel(["--batch", "128"]), "losing every worker changed the weights")
    }
}
