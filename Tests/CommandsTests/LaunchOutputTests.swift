@testable import Commands
import Foundation
import XCTest

/// What dptrain launch shows: one label per line, each worker under the id the coordinator
/// gave it, peers named readably.
final class LaunchOutputTests: ProcessTestCase {
    func testOneLabelPerLineAndTheCoordinatorsIds() throws {
        let launch = try start("launch", ["launch", "--workers", "2", "--epochs", "1", "--batch", "256"])
        wait(launch)
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        let lines = (output("launch") + errors("launch")).split(separator: "\n").map(String.init)
        XCTAssertFalse(lines.contains { $0.hasPrefix("[coordinator] coordinator:") || $0.contains("] worker: ") }, lines.joined(separator: "\n"))
        // Each worker's lines after its welcome carry the id in it.
        for line in lines where line.contains("joined as worker ") {
            let id = line.components(separatedBy: "joined as worker ")[1].prefix { $0.isNumber }
            XCTAssertTrue(line.hasPrefix("[worker \(id)] "), line)
        }
        XCTAssertEqual(lines.filter { $0.contains("joined as worker ") }.count, 2, lines.joined(separator: "\n"))
        // ipc peers are named by their host and pid, not libzmq's made-up address.
        XCTAssertFalse(lines.contains { $0.contains("localhost:0:0") }, lines.joined(separator: "\n"))
    }

    func testAWorkersLabelFollowsItsIdFromTheWelcome() {
        XCTAssertEqual(LaunchCommand.workerIDFromLine("joined as worker 2: 784-128-10 relu, batch 128"), "worker 2")
        XCTAssertNil(LaunchCommand.workerIDFromLine("holding 30000 samples"))
    }
}

/// A launch bound to every interface gives its own workers an address they can connect to.
final class LaunchEndpointTests: XCTestCase {
    func testWildcardBindsBecomeLoopbackForTheWorkers() {
        XCTAssertEqual(LaunchCommand.connectable("tcp://*:5599"), "tcp://127.0.0.1:5599")
        XCTAssertEqual(LaunchCommand.connectable("tcp://0.0.0.0:5599"), "tcp://127.0.0.1:5599")
        XCTAssertEqual(LaunchCommand.connectable("tcp://10.0.0.2:5599"), "tcp://10.0.0.2:5599")
        XCTAssertEqual(LaunchCommand.connectable("ipc:///tmp/a.sock"), "ipc:///tmp/a.sock")
    }
}
