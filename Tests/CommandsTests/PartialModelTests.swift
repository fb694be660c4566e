import Foundation
import XCTest

/// A run stopped before its end saves what it trained, marked partial (steps done of steps
/// planned), and says so where the model is written and where it is read.
final class PartialModelTests: ProcessTestCase {
    func testAnInterruptedRunsModelIsMarkedPartial() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let model = "\(folder)/model.safetensors"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--epochs", "2", "--save", model])
        let worker = try start("worker", ["worker", "--connect", endpoint])
        waitUntil("training to start") { errors("coordinator").contains("training with 1 worker") }
        kill(coordinator.processIdentifier, SIGTERM)
        wait(coordinator)
        wait(worker, seconds: 30)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        let stopLine = try XCTUnwrap(output("coordinator").split(separator: "\n").first { $0.hasPrefix("stopped by signal") }, output("coordinator"))
        let stepsDone = try XCTUnwrap(Int(stopLine.split(separator: " ")[6].dropLast()), String(stopLine))   // "... at step N: wrote ..."
        XCTAssertTrue(stopLine.contains("wrote model \(model) (partial: trained \(stepsDone) of 938 steps before its run was stopped)"), String(stopLine))

        let data = try Data(contentsOf: URL(fileURLWithPath: model))
        let headerLength = Int(data[0]) | Int(data[1]) << 8 | Int(data[2]) << 16
        let header = try JSONSerialization.jsonObject(with: data[8..<(8 + headerLength)]) as! [String: Any]
        let metadata = try XCTUnwrap(header["__metadata__"] as? [String: String])
        XCTAssertEqual(metadata["partial"], "true")
        XCTAssertEqual(metadata["steps_done"], String(stepsDone))
        XCTAssertEqual(metadata["steps_planned"], "938")

        let evaluated = try Run.dptrain(["evaluate", "--model", model])
        XCTAssertEqual(evaluated.status, 0, evaluated.errors)
        XCTAssertTrue(evaluated.output.contains("partial: trained \(stepsDone) of 938 steps"), evaluated.output)
        XCTAssertTrue(evaluated.errors.contains("warning: \(model) is partial: trained \(stepsDone) of 938 steps"), evaluated.errors)
    }
}
