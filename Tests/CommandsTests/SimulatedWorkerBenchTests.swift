import Foundation
import XCTest

/// `dptrain bench ceiling` at a tiny size: that it runs a real coordinator against
/// its simulated workers and reports each count, not how fast.
final class SimulatedWorkerBenchTests: XCTestCase {
    let folder = NSTemporaryDirectory() + "dptrain-bench-\(UUID().uuidString)"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    /// The JSON lines of one bench run, in order.
    func bench(_ precision: String, sharedMemory: String = "off") throws -> [[String: Any]] {
        let metrics = "\(folder)/\(precision)-\(sharedMemory).jsonl"
        let result = try Run.dptrain(["bench", "ceiling", "1,3", "--hidden", "8", "--batch", "4", "--steps", "8",
                                      "--wire-precision", precision, "--shared-memory", sharedMemory, "--metrics", metrics])
        XCTAssertEqual(result.status, 0, result.errors)
        let rows = result.output.split(separator: "\n").filter { $0.hasPrefix("      1 ") || $0.hasPrefix("      3 ") }
        XCTAssertEqual(rows.count, 2, result.output)
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        return try text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func testEachCountIsMeasuredAndBF16HalvesTheBytes() throws {
        let float32 = try bench("float32"), bf16 = try bench("bf16")
        for lines in [float32, bf16] {
            XCTAssertEqual(lines.map { $0["event"] as? String }, ["bench", "bench"])
            XCTAssertEqual(lines.map { $0["workers"] as? Int }, [1, 3])
            XCTAssertEqual(lines.map { $0["steps"] as? Int }, [8, 8])
            for line in lines {
                for key in ["samples_per_second", "steps_per_second", "megabytes_per_second"] {
                    XCTAssertGreaterThan(line[key] as? Double ?? 0, 0, "\(key) in \(line)")
                }
                // Samples per second is steps per second times the samples of a step.
                let samples = (line["steps_per_second"] as! Double) * Double(4 * (line["workers"] as! Int))
                XCTAssertEqual(line["samples_per_second"] as! Double, samples, accuracy: samples * 1e-4)
            }
        }
        // 784-8-10 has 6,370 parameters: weights of 25 KB as float32, 13 KB as bf16; gradient sums of a
        // converging run's size packed to 5 bytes a value on float32's grid (32 KB), 2 on bf16's coarse
        // grid (13 KB); and the headers besides. A step moves 2 + 2 bytes a parameter, not 4 + 5.
        for (full, half) in zip(float32, bf16) {
            let ratio = Double(half["bytes_per_step"] as! Int) / Double(full["bytes_per_step"] as! Int)
            XCTAssertEqual(ratio, 4.0 / 9.0, accuracy: 0.02, "bytes per step: \(half) against \(full)")
        }
    }

    /// Through shared memory the simulated workers answer on their doorbells with packed slots,
    /// as real same-host workers do: the same bytes a step as over the socket, halved by bf16.
    func testSharedMemoryRunsAndBF16HalvesItsBytesToo() throws {
        let float32 = try bench("float32", sharedMemory: "on"), bf16 = try bench("bf16", sharedMemory: "on")
        XCTAssertEqual(float32.map { $0["shared_memory"] as? String }, ["on", "on"])
        for (full, half) in zip(float32, bf16) {
            let ratio = Double(half["bytes_per_step"] as! Int) / Double(full["bytes_per_step"] as! Int)
            XCTAssertEqual(ratio, 4.0 / 9.0, accuracy: 0.02, "bytes per step: \(half) against \(full)")
        }
    }

    /// Scripts written before the benchmarks were subcommands still run: `--simulated-workers` is `ceiling`.
    func testTheOlderSpellingStillRuns() throws {
        let result = try Run.dptrain(["bench", "--simulated-workers", "2", "--hidden", "8", "--batch", "4", "--steps", "2"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.output.split(separator: "\n").filter { $0.hasPrefix("      2 ") }.count, 1, result.output)
    }

    /// dptrain with `arguments` in the background, at most 60 s, its output in the test's folder as NAME.out and NAME.err.
    func start(_ name: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "60", Run.executable] + arguments
        for stream in ["out", "err"] { FileManager.default.createFile(atPath: "\(folder)/\(name).\(stream)", contents: nil) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: "\(folder)/\(name).out")
        process.standardError = FileHandle(forWritingAtPath: "\(folder)/\(name).err")
        try process.run()
        return process
    }

    func read(_ name: String) -> String { (try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8)) ?? "" }

    /// The two halves in three processes over tcp loopback, as across a shaped link: `--bind` runs
    /// the coordinator alone and says where it waits; two `--connect` processes bring 2 and 1 of its
    /// 3 simulated workers; every step is answered and each process exits 0.
    func testSimulatedWorkersInOtherProcessesMeetABoundCoordinator() throws {
        let metrics = "\(folder)/bound.jsonl"
        let coordinator = try start("coordinator", ["bench", "ceiling", "3", "--bind", "tcp://127.0.0.1:*", "--hidden", "8", "--batch", "4",
                                                    "--steps", "8", "--metrics", metrics])
        defer { if coordinator.isRunning { coordinator.terminate() } }
        let bound = try waitForEndpoint(coordinator)
        XCTAssertTrue(read("coordinator.out").contains("waiting for 3 simulated workers (dptrain bench ceiling 3 --connect \(bound))"), read("coordinator.out"))
        let two = try start("two", ["bench", "ceiling", "2", "--connect", bound])
        let one = try start("one", ["bench", "ceiling", "1", "--connect", bound])
        for process in [coordinator, two, one] { process.waitUntilExit() }
        XCTAssertEqual(coordinator.terminationStatus, 0, read("coordinator.err"))
        XCTAssertEqual(two.terminationStatus, 0, read("two.err"))
        XCTAssertEqual(one.terminationStatus, 0, read("one.err"))
        XCTAssertTrue(read("two.out").contains("2 simulated workers answered every step of the run at \(bound)"), read("two.out"))
        XCTAssertTrue(read("one.out").contains("1 simulated worker answered every step of the run at \(bound)"), read("one.out"))
        XCTAssertEqual(read("coordinator.out").split(separator: "\n").filter { $0.hasPrefix("      3 ") }.count, 1, read("coordinator.out"))
        let line = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(read("bound.jsonl").utf8)) as? [String: Any])
        XCTAssertEqual(line["workers"] as? Int, 3)
        XCTAssertEqual(line["steps"] as? Int, 8)
        XCTAssertGreaterThan(line["samples_per_second"] as? Double ?? 0, 0, "\(line)")
    }

    /// The endpoint a `bench ceiling --bind` process says it waits at.
    func waitForEndpoint(_ coordinator: Process) throws -> String {
        var endpoint: String?
        let deadline = Date().addingTimeInterval(30)
        while endpoint == nil, coordinator.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            endpoint = read("coordinator.out").split(separator: "\n").first { $0.hasPrefix("coordinator at tcp://127.0.0.1:") }
                .map { String($0.dropFirst("coordinator at ".count).prefix { $0 != "," }) }
        }
        return try XCTUnwrap(endpoint, read("coordinator.out") + read("coordinator.err"))
    }

    /// With --parameter-servers, a bound coordinator waits for real `dptrain parameter-server`
    /// processes too, and the simulated workers of a --connect process reach them from its welcome.
    func testABoundCeilingTakesParameterServersFromOtherProcesses() throws {
        let coordinator = try start("coordinator", ["bench", "ceiling", "2", "--bind", "tcp://127.0.0.1:*", "--parameter-servers", "2",
                                                    "--hidden", "8", "--batch", "4", "--steps", "8", "--metrics", "\(folder)/bound.jsonl"])
        defer { if coordinator.isRunning { coordinator.terminate() } }
        let bound = try waitForEndpoint(coordinator)
        XCTAssertTrue(read("coordinator.out").contains("and 2 parameter servers (dptrain parameter-server --connect \(bound) --bind ENDPOINT)"),
                      read("coordinator.out"))
        let servers = try (1...2).map { try start("server\($0)", ["parameter-server", "--connect", bound, "--bind", "tcp://127.0.0.1:0"]) }
        let workers = try start("workers", ["bench", "ceiling", "2", "--connect", bound])
        for process in [coordinator, workers] + servers { process.waitUntilExit() }
        XCTAssertEqual(coordinator.terminationStatus, 0, read("coordinator.err"))
        XCTAssertEqual(workers.terminationStatus, 0, read("workers.err"))
        for (index, server) in servers.enumerated() { XCTAssertEqual(server.terminationStatus, 0, read("server\(index + 1).err")) }
        XCTAssertTrue(read("workers.out").contains("2 simulated workers answered every step of the run at \(bound)"), read("workers.out"))
        let line = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(read("bound.jsonl").utf8)) as? [String: Any])
        XCTAssertEqual(line["workers"] as? Int, 2)
        XCTAssertEqual(line["steps"] as? Int, 8)
        XCTAssertGreaterThan(line["samples_per_second"] as? Double ?? 0, 0, "\(line)")
    }

    /// Each way --bind and --connect cannot work is one line and exit 64.
    func testBindAndConnectRefuseWhatCannotWork() throws {
        let cases: [([String], String)] = [
            (["1,2", "--bind", "tcp://127.0.0.1:5555"], "Error: --bind takes one count of simulated workers (got 1,2): a run each"),
            (["2", "--bind", "tcp://127.0.0.1:5555", "--connect", "tcp://127.0.0.1:5555"],
             "Error: --bind runs the coordinator and --connect the simulated workers: give one, in two processes"),
            (["2", "--bind", "tcp://0.0.0.0:5555"], "Error: --bind tcp://0.0.0.0:5555 can be reached from the network"),
            (["2", "--connect", "tcp://127.0.0.1:5555", "--metrics", "\(folder)/m.jsonl"], "Error: --metrics is the coordinator's: give it with --bind, not --connect"),
            (["2", "--connect", "tcp://127.0.0.1:5555", "--parameter-servers", "2"],
             "Error: --parameter-servers is the coordinator's: give it with --bind, and start the servers with dptrain parameter-server"),
        ]
        for (arguments, message) in cases {
            let result = try Run.dptrain(["bench", "ceiling"] + arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.errors)")
            XCTAssertTrue(result.errors.hasPrefix(message), "\(arguments): \(result.errors)")
            XCTAssertEqual(result.errors.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.hasPrefix("  See") }.count, 1, result.errors)
        }
    }

    func testBadCountsAreOneLine() throws {
        for arguments in [["bench", "ceiling", "2,zero"], ["bench", "--simulated-workers", "2,zero"]] {
            let result = try Run.dptrain(arguments)
            XCTAssertEqual(result.status, 64)
            XCTAssertTrue(result.errors.hasPrefix("Error: simulated worker counts '2,zero' must be from 1 to 256, comma-separated, like 1,2,4,8,16\n"),
                          result.errors)
        }
    }
}
