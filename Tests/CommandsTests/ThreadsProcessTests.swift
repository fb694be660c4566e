import Foundation
import XCTest

/// `--threads` as a user meets it: any number of threads in any number of processes trains the
/// model one thread does, to the bit, and a worker sends one gradient a step however many threads
/// computed it.
final class ThreadsProcessTests: ProcessTestCase {
    // Eight shards of 32: a step's chunks share out over 1, 2 or 3 threads unevenly.
    let flags = ["--epochs", "1", "--batch", "256", "--shards", "8", "--seed", "5"]

    func savedModel(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name).safetensors")) }

    func run(_ name: String, _ arguments: [String]) throws {
        let process = try start(name, arguments + ["--save", "\(folder)/\(name).safetensors"])
        wait(process)
        XCTAssertEqual(process.terminationStatus, 0, errors(name))
    }

    func testTrainWithOneTwoOrThreeThreadsWritesTheSameModel() throws {
        try run("train1", ["train", "--threads", "1"] + flags)
        XCTAssertTrue(output("train1").contains("threads: 1 computing each step's chunks"), output("train1"))
        XCTAssertGreaterThan(try XCTUnwrap(accuracy(output("train1"))), 0.9)
        for threads in [2, 3] {
            try run("train\(threads)", ["train", "--threads", String(threads)] + flags)
            XCTAssertEqual(try savedModel("train\(threads)"), try savedModel("train1"), "train --threads \(threads)")
        }
        // More threads than this process may use: a warning line, and the same model.
        try run("many", ["train", "--threads", "5"] + flags)
        XCTAssertEqual(try savedModel("many"), try savedModel("train1"))
        if ProcessInfo.processInfo.activeProcessorCount < 5 {
            XCTAssertTrue(errors("many").contains("warning: --threads 5: 5 threads on the \(ProcessInfo.processInfo.activeProcessorCount) cores this process may use"), errors("many"))
        }
    }

    /// Without --threads, train takes the cores its affinity allows: `taskset -c 0` gives it one,
    /// and launch shares the machine's cores among its workers.
    func testTheDefaultFollowsTheCoresTheProcessMayUse() throws {
        let pinned = Process()
        pinned.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        pinned.arguments = ["-c", "0", ProcessTests.executable, "train", "--epochs", "1", "--batch", "512"]
        let pipe = Pipe()
        pinned.standardOutput = pipe
        pinned.standardError = FileHandle.nullDevice
        try pinned.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        pinned.waitUntilExit()
        XCTAssertEqual(pinned.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("threads: 1 computing each step's chunks"), text)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        try run("all", ["train", "--epochs", "1", "--batch", "512"])
        XCTAssertTrue(output("all").contains("threads: \(cores) computing each step's chunks"), output("all"))
        try run("launch", ["launch", "--workers", "2", "--epochs", "1", "--batch", "512"])
        let share = max(1, cores / 2), lines = output("launch") + errors("launch")
        XCTAssertEqual(lines.components(separatedBy: "computing on \(share) thread\(share == 1 ? "" : "s")").count - 1, 2, lines)
    }

    /// launch --workers 1|2 --threads 1|2: the model of train with the same flags, and with bf16 on
    /// the wire (which train has not) the model of one worker of one thread; the coordinator
    /// receives one gradient per worker process a step.
    func testLaunchWithThreadsWritesTrainsModelAndOneGradientPerWorker() throws {
        try run("train", ["train", "--threads", "1"] + flags)
        for wire in ["float32", "bf16"] {
            let wireFlags = flags + ["--wire-precision", wire]
            var bytesPerStep: [String: Int] = [:]
            for (workers, threads) in [(1, 1), (1, 2), (2, 2), (2, 1)] {
                let name = "launch-\(wire)-\(workers)x\(threads)"
                try run(name, ["launch", "--workers", String(workers), "--threads", String(threads), "--metrics", "\(folder)/\(name).jsonl"] + wireFlags)
                XCTAssertEqual(try savedModel(name), try savedModel(wire == "float32" ? "train" : "launch-bf16-1x1"), name)
                let epoch = try XCTUnwrap(try metrics("\(folder)/\(name).jsonl").first { $0["event"] as? String == "epoch" })
                bytesPerStep["\(workers)x\(threads)"] = try XCTUnwrap(epoch["bytes_per_step"] as? Int)
            }
            // Threads add no bytes: one packed sum per worker (a few header bytes and widths may differ).
            let one = try XCTUnwrap(bytesPerStep["1x1"]), two = try XCTUnwrap(bytesPerStep["1x2"])
            XCTAssertEqual(Double(two) / Double(one), 1, accuracy: 0.01, "\(bytesPerStep)")
            XCTAssertEqual(Double(try XCTUnwrap(bytesPerStep["2x2"])) / Double(try XCTUnwrap(bytesPerStep["2x1"])), 1, accuracy: 0.01, "\(bytesPerStep)")
        }
    }

    /// A two-thread worker killed mid-run and a new one-thread worker joining in its place: the
    /// shards move by thread count, and the model is train's.
    func testAKilledThreadedWorkerAndAJoinerLeaveTheModelUnchanged() throws {
        let runFlags = ["--epochs", "3", "--batch", "192", "--shards", "6", "--seed", "5"]
        try run("train", ["train", "--threads", "1"] + runFlags)
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "2", "--max-workers", "3", "--step-deadline", "2",
                                                    "--save", "\(folder)/coordinator.safetensors"] + runFlags)
        let two = try start("two", ["worker", "--connect", endpoint, "--threads", "2"])
        let one = try start("one", ["worker", "--connect", endpoint, "--threads", "1"])
        waitUntil("the first epoch") { errors("coordinator").contains("epoch 1 ") }
        kill(two.processIdentifier, SIGKILL)
        let joiner = try start("joiner", ["worker", "--connect", endpoint, "--threads", "1"])
        wait(coordinator)
        [one, joiner].forEach { wait($0, seconds: 10) }
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertTrue(errors("coordinator").contains("lost at step"), errors("coordinator"))
        XCTAssertEqual(try savedModel("coordinator"), try savedModel("train"), "a threaded worker lost and a joiner changed the weights")
    }
}
