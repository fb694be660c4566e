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

    func testBadCountsAreOneLine() throws {
        for arguments in [["bench", "ceiling", "2,zero"], ["bench", "--simulated-workers", "2,zero"]] {
            let result = try Run.dptrain(arguments)
            XCTAssertEqual(result.status, 64)
            XCTAssertTrue(result.errors.hasPrefix("Error: simulated worker counts '2,zero' must be from 1 to 256, comma-separated, like 1,2,4,8,16\n"),
                          result.errors)
        }
    }
}
