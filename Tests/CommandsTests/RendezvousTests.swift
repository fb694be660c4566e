import Foundation
import XCTest
@testable import Commands
import Wire

/// What a scheduler's template relies on: a worker that finds its coordinator in the
/// environment, and executables that say which release and commit they are.
final class RendezvousTests: ProcessTestCase {
    /// A worker started with no --connect, only DPTRAIN_COORDINATOR, trains with its coordinator.
    func testWorkerTakesItsEndpointFromTheEnvironment() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--epochs", "1"])
        let worker = try start("worker", ["worker"], environment: ["DPTRAIN_COORDINATOR": endpoint])
        wait(coordinator)
        wait(worker, seconds: 10)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(worker.terminationStatus, 0, errors("worker"))
        XCTAssertGreaterThanOrEqual(accuracy(output("coordinator")) ?? 0, 0.9, output("coordinator"))
    }

    /// --connect wins over the environment; blanks around the variable's value are dropped, and a blank value is none.
    func testConnectFlagWinsOverTheEnvironment() throws {
        let command = try WorkerCommand.parse(["--connect", "tcp://flag:1"])
        XCTAssertEqual(try command.endpoint(environment: ["DPTRAIN_COORDINATOR": "tcp://environment:2"]), "tcp://flag:1")
        var withoutFlag = command
        withoutFlag.connect = nil
        XCTAssertEqual(try withoutFlag.endpoint(environment: ["DPTRAIN_COORDINATOR": " tcp://environment:2 "]), "tcp://environment:2")
        XCTAssertThrowsError(try withoutFlag.endpoint(environment: ["DPTRAIN_COORDINATOR": ""]))
    }

    /// Neither --connect nor DPTRAIN_COORDINATOR: one line that says both ways, and exit 64, at once.
    func testWorkerWithNoEndpointSaysHowToGiveOne() throws {
        let worker = try start("lost", ["worker"], environment: ["DPTRAIN_COORDINATOR": nil])
        wait(worker, seconds: 10)
        XCTAssertEqual(worker.terminationStatus, 64)
        XCTAssertEqual(errors("lost").split(separator: "\n").first,
                       "Error: worker needs its coordinator's endpoint: pass --connect tcp://HOST:PORT or set DPTRAIN_COORDINATOR")
    }

    /// `--version` names the program, the release and the commit ("unknown" outside deploy/release.sh).
    func testVersionNamesReleaseAndCommit() throws {
        for (arguments, program) in [(["--version"], "dptrain"), (["worker", "--version"], "worker"),
                                     (["coordinator", "--version"], "coordinator")] {
            let process = try start(program, arguments)
            wait(process, seconds: 10)
            XCTAssertEqual(process.terminationStatus, 0)
            XCTAssertEqual(output(program), "\(program) \(BuildInfo.version) (protocol \(protocolVersion), commit \(BuildInfo.commit))\n")
        }
        XCTAssertTrue(BuildInfo.version.split(separator: ".").count == 3, BuildInfo.version)
        // A release of another protocol is another release: its minor number is the protocol's version.
        XCTAssertEqual(BuildInfo.version.split(separator: ".")[1], "\(protocolVersion)")
    }
}
