import Foundation
import XCTest
import ZMQ

/// Runs dptrain processes with their output in files, for tests that start several at once.
class ProcessTestCase: XCTestCase {
    let folder = NSTemporaryDirectory() + "dptrain-processes-\(UUID().uuidString)"
    private var started: [Process] = []

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        // Nothing a test started outlives it, stopped or not.
        for process in started where process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            process.terminate()
            process.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["KEEP_TEST_FOLDER"] == nil { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// A loopback port nothing listens on right now.
    func freePort() throws -> Int {
        let context = try Context()
        let socket = try Socket(context, .router)
        try socket.bind("tcp://127.0.0.1:*")
        let endpoint = try socket.lastEndpoint()
        return Int(endpoint.split(separator: ":").last!)!
    }

    /// Starts dptrain with `arguments`, and `environment` over this process's own (a nil value
    /// removes the variable); its output goes to files in the test's folder.
    /// With `user` (a numeric id, taken as the group id too), dptrain runs as that user (util-linux's setpriv; the test must run as root).
    func start(_ name: String, _ arguments: [String], environment: [String: String?] = [:], user: String? = nil) throws -> Process {
        let process = Process()
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(user)", "--regid=\(user)", "--clear-groups", ProcessTests.executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: ProcessTests.executable)
            process.arguments = arguments
        }
        if !environment.isEmpty {
            var merged = ProcessInfo.processInfo.environment
            for (name, value) in environment { merged[name] = value }
            process.environment = merged
        }
        FileManager.default.createFile(atPath: "\(folder)/\(name).out", contents: nil)
        FileManager.default.createFile(atPath: "\(folder)/\(name).err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: "\(folder)/\(name).out")
        process.standardError = FileHandle(forWritingAtPath: "\(folder)/\(name).err")
        try process.run()
        started.append(process)
        return process
    }

    func output(_ name: String) -> String { (try? String(contentsOfFile: "\(folder)/\(name).out", encoding: .utf8)) ?? "" }
    func errors(_ name: String) -> String { (try? String(contentsOfFile: "\(folder)/\(name).err", encoding: .utf8)) ?? "" }

    func wait(_ process: Process, seconds: Double = 120) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate(); XCTFail("\(process.arguments ?? []) did not finish in \(seconds) s") }
        process.waitUntilExit()
    }

    /// Waits until `condition` holds, checking every 10 ms, for at most `seconds`.
    func waitUntil(seconds: Double = 60, _ what: String, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return XCTFail("waited \(seconds) s for \(what)") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    func accuracy(_ text: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("done:") }) else { return nil }
        return Double(line.split(separator: " ")[3])
    }

    /// The metrics file's lines as JSON objects.
    func metrics(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }
}

/// A coordinator and workers as separate processes over tcp loopback, as users run them.
final class DistributedProcessTests: ProcessTestCase {
    /// 2 workers at a global batch of 128 over tcp, 3 epochs: at least 97%, and the model of
    /// one process with batch 128. The workers start first: start order does not matter.
    func testTwoWorkerProcessesMatchOneProcess() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let workers = try (1...2).map { try start("worker\($0)", ["worker", "--connect", endpoint]) }
        Thread.sleep(forTimeInterval: 0.5)
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "2", "--batch", "128",
                                                    "--metrics", "\(folder)/metrics.jsonl", "--save", "\(folder)/distributed.safetensors"])
        wait(coordinator)
        workers.forEach { wait($0, seconds: 10) }
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(workers.map(\.terminationStatus), [0, 0], errors("worker1") + errors("worker2"))
        XCTAssertTrue(errors("worker1").contains("waiting for a coordinator at \(endpoint)"), errors("worker1"))
        let distributed = try XCTUnwrap(accuracy(output("coordinator")), output("coordinator"))
        XCTAssertGreaterThanOrEqual(distributed, 0.97)

        // --batch is the global batch: the same flags train the same model, to the bit.
        let single = try start("single", ["train", "--batch", "128", "--save", "\(folder)/single.safetensors"])
        wait(single)
        let alone = try XCTUnwrap(accuracy(output("single")), output("single"))
        XCTAssertEqual(distributed, alone)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/distributed.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: "\(folder)/single.safetensors")))

        let lines = try metrics("\(folder)/metrics.jsonl").filter { $0["event"] as? String == "epoch" || $0["event"] as? String == "done" }
        XCTAssertEqual(lines.count, 4)
        let epoch = lines[0]
        XCTAssertEqual(epoch["workers"] as? Int, 2)
        for key in ["wait_ms", "reduce_ms", "update_ms", "broadcast_ms", "worker_compute_max_ms", "worker_compute_min_ms"] {
            XCTAssertNotNil(epoch[key] as? Double, key)
        }
        // Float32 weights out and the fixed-point sums in, packed to 5 bytes a value (6 in the first
        // steps), for each worker, plus headers: about 2 x (407 + 509) KB.
        let bytes = try XCTUnwrap(epoch["bytes_per_step"] as? Int)
        XCTAssertGreaterThan(bytes, 2 * (407_080 + 5 * 101_770))
        XCTAssertLessThan(bytes, 2 * (407_080 + 6 * 101_770) + 4096)
    }

    /// The signals a process ignores and catches, from /proc: bit n - 1 stands for signal n.
    func signalMasks(_ pid: Int32) throws -> (ignored: UInt64, caught: UInt64) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func mask(_ name: String) throws -> UInt64 {
            let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix(name + ":") })
            return try XCTUnwrap(UInt64(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces), radix: 16))
        }
        return (try mask("SigIgn"), try mask("SigCgt"))
    }

    /// The coordinator and worker commands set up the process's signals (the drivers do not):
    /// SIGPIPE ignored, since a write into the pipe of a peer that died is EPIPE, a lost
    /// connection and not a reason to die; SIGTERM and SIGINT caught, to stop at a step's end.
    func testTheCommandsIgnoreSIGPIPEAndCatchTheStopSignals() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "2", "--epochs", "1"])
        let worker = try start("worker", ["worker", "--connect", endpoint])
        waitUntil("the worker to join") { errors("coordinator").contains("1 of 2 workers joined") }
        for process in [coordinator, worker] {
            let masks = try signalMasks(process.processIdentifier)
            XCTAssertEqual(masks.ignored >> (UInt64(SIGPIPE) - 1) & 1, 1, "SIGPIPE ignored")
            XCTAssertEqual(masks.caught >> (UInt64(SIGTERM) - 1) & 1, 1, "SIGTERM caught")
            XCTAssertEqual(masks.caught >> (UInt64(SIGINT) - 1) & 1, 1, "SIGINT caught")
        }
        for process in [worker, coordinator] {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func testPortInUseIsOneLineNamingIt() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let context = try Context()
        let holder = try Socket(context, .router)
        try holder.bind(endpoint)
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1"])
        wait(coordinator, seconds: 30)
        XCTAssertNotEqual(coordinator.terminationStatus, 0)
        let lines = errors("coordinator").split(separator: "\n").filter { $0.contains("Error") }
        XCTAssertEqual(lines.count, 1, errors("coordinator"))
        XCTAssertTrue(lines.first?.contains("cannot bind \(endpoint): Address already in use") ?? false, errors("coordinator"))
    }

    func testBadEndpointsAreOneLineNamingThem() throws {
        let coordinator = try start("coordinator", ["coordinator", "--bind", "tcp//127.0.0.1:5555", "--workers", "1"])
        let worker = try start("worker", ["worker", "--connect", "carrier-pigeon://coop"])
        wait(coordinator, seconds: 30)
        wait(worker, seconds: 30)
        XCTAssertNotEqual(coordinator.terminationStatus, 0)
        XCTAssertNotEqual(worker.terminationStatus, 0)
        XCTAssertTrue(errors("coordinator").contains("cannot bind tcp//127.0.0.1:5555"), errors("coordinator"))
        XCTAssertTrue(errors("worker").contains("cannot connect to carrier-pigeon://coop"), errors("worker"))
    }

    func testUnreachableCoordinatorMakesTheWorkerGiveUpSayingWhere() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let worker = try start("worker", ["worker", "--connect", endpoint, "--give-up-after", "1"])
        wait(worker, seconds: 30)
        XCTAssertNotEqual(worker.terminationStatus, 0)
        XCTAssertTrue(errors("worker").contains("heard nothing from a coordinator at \(endpoint) for 1 s"), errors("worker"))
    }
}

/// What a distributed run says when it cannot go on.
final class DistributedFailureTests: ProcessTestCase {
    /// A run that diverges stops with advice, and its worker exits too: nothing waits forever.
    func testDivergingRunStopsEveryProcess() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--lr", "1e38", "--schedule", "constant"])
        let worker = try start("worker", ["worker", "--connect", endpoint])
        wait(coordinator, seconds: 60)
        wait(worker, seconds: 20)
        XCTAssertNotEqual(coordinator.terminationStatus, 0)
        XCTAssertTrue(errors("coordinator").contains("NaN or infinite") && errors("coordinator").contains("lower"), errors("coordinator"))
        XCTAssertNotEqual(worker.terminationStatus, 0)
    }

    /// A fresh run does not write into a folder of another run's checkpoints, which pruning would mix up.
    func testFreshRunRefusesAFolderOfCheckpoints() throws {
        let checkpoints = "\(folder)/checkpoints"
        try FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(checkpoints)/checkpoint-0000001407.dpck", contents: Data("old".utf8))
        let coordinator = try start("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:\(try freePort())", "--workers", "1",
                                                    "--checkpoint", checkpoints])
        wait(coordinator, seconds: 30)
        XCTAssertNotEqual(coordinator.terminationStatus, 0)
        XCTAssertTrue(errors("coordinator").contains("already holds checkpoints of a run; pass --resume"), errors("coordinator"))
    }
}
