import Foundation
import XCTest

/// Unequal workers as a user meets them: a worker slowed on purpose gives up shards to the
/// other, the metrics say so, and the model is the one process's, to the bit.
final class RebalanceProcessTests: ProcessTestCase {
    let flags = ["--epochs", "2", "--batch", "512", "--shards", "16", "--seed", "9"]

    func run(rebalance: String) throws -> (model: Data, rebalanced: [[String: Any]]) {
        let name = "rebalance-\(rebalance)"
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start(name, ["coordinator", "--bind", endpoint, "--workers", "2", "--rebalance", rebalance,
                                           "--metrics", "\(folder)/\(name).jsonl", "--save", "\(folder)/\(name).safetensors"] + flags)
        let fast = try start("\(name)-fast", ["worker", "--connect", endpoint, "--threads", "1"])
        // Every step of this one takes 4 ms longer than its compute.
        let slow = try start("\(name)-slow", ["worker", "--connect", endpoint, "--threads", "1"], environment: ["DPTRAIN_TEST_STEP_DELAY_MS": "4"])
        wait(coordinator)
        [fast, slow].forEach { wait($0, seconds: 10) }
        XCTAssertEqual(coordinator.terminationStatus, 0, errors(name))
        let events = try metrics("\(folder)/\(name).jsonl").filter { $0["event"] as? String == "rebalanced" }
        return (try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name).safetensors")), events)
    }

    func testASlowWorkerGivesUpShardsAndTheModelIsTrains() throws {
        let train = try start("train", ["train", "--save", "\(folder)/train.safetensors"] + flags)
        wait(train)
        XCTAssertEqual(train.terminationStatus, 0, errors("train"))
        let expected = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/train.safetensors"))

        let on = try run(rebalance: "on")
        XCTAssertEqual(on.model, expected, "a rebalanced run trained another model")
        let first = try XCTUnwrap(on.rebalanced.first, "no rebalanced event: \(errors("rebalance-on"))")
        let shards = try XCTUnwrap(first["shards"] as? [String: Int])
        XCTAssertEqual(shards.values.reduce(0, +), 16)
        // The worker that joined second is the slow one only if it said hello second: compare by speed.
        let speeds = try XCTUnwrap(first["samples_per_second"] as? [String: Int])
        let fastest = try XCTUnwrap(speeds.max { $0.value < $1.value }?.key)
        XCTAssertGreaterThan(shards[fastest]!, 8, "\(first)")
        XCTAssertTrue(errors("rebalance-on").contains("shards follow the workers' speeds"), errors("rebalance-on"))
        // The report draws each worker's shards over time.
        let report = try start("report", ["report", "\(folder)/rebalance-on.jsonl", "-o", "\(folder)/report.html"])
        wait(report)
        XCTAssertEqual(report.terminationStatus, 0, errors("report"))
        let page = try String(contentsOfFile: "\(folder)/report.html", encoding: .utf8)
        let chart = try XCTUnwrap(page.components(separatedBy: "data-chart=\"shards\"").dropFirst().first?.components(separatedBy: "</svg>").first, "no shards chart")
        for worker in shards.keys { XCTAssertTrue(chart.contains("worker \(worker)"), chart) }

        let off = try run(rebalance: "off")
        XCTAssertEqual(off.model, expected)
        XCTAssertTrue(off.rebalanced.isEmpty, "\(off.rebalanced)")
    }
}
