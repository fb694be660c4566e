import Foundation
import XCTest

/// benchmarks/links.sh, run for real: bad arguments stop it before it makes anything, and as root
/// it builds its hosts from network namespaces on shaped veths, counts the links' bytes, and
/// leaves nothing behind, also when it is interrupted mid-run. No timing is asserted: the
/// figures are the benchmark's, on a quiet machine.
final class LinksBenchmarkTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let script = "\(repository)/benchmarks/links.sh"
    let folder = NSTemporaryDirectory() + "dptrain-links-\(UUID().uuidString)"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    /// The script with `environment` added to this process's, its output written to files in the folder.
    func start(_ arguments: [String], _ environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.script] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["DPTRAIN": ProcessTests.executable, "RUN_TIMEOUT": "120"].merging(environment) { $1 }) { $1 }
        FileManager.default.createFile(atPath: "\(folder)/out", contents: nil)
        FileManager.default.createFile(atPath: "\(folder)/err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(folder)/out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(folder)/err"))
        try process.run()
        return process
    }

    func output() -> String { (try? String(contentsOfFile: "\(folder)/out", encoding: .utf8)) ?? "" }
    func errors() -> String { (try? String(contentsOfFile: "\(folder)/err", encoding: .utf8)) ?? "" }

    func run(_ arguments: [String], _ environment: [String: String] = [:]) throws -> Int32 {
        let process = try start(arguments, environment)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The namespaces a run of the script with this pid made, as `ip netns list` names them.
    func namespaces(of pid: Int32) throws -> [String] {
        try runToEnd("/usr/bin/env", ["ip", "netns", "list"]).output.split(separator: "\n")
            .map { String($0.split(separator: " ")[0]) }.filter { $0.hasPrefix("dpt-\(pid)-") }
    }

    func skipUnlessNamespacesCanBeMade() throws {
        try XCTSkipUnless(getuid() == 0, "benchmarks/links.sh needs root, for ip netns and tc")
        let probe = "dpt-probe-\(getpid())"
        let made = try runToEnd("/usr/bin/env", ["ip", "netns", "add", probe])
        let shaped = try runToEnd("/usr/bin/env", ["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root",
                                                   "tbf", "rate", "1gbit", "burst", "128kb", "latency", "50ms"])
        _ = try runToEnd("/usr/bin/env", ["ip", "netns", "del", probe])
        try XCTSkipUnless(made.status == 0, "this machine cannot make network namespaces: \(made.errors)")
        try XCTSkipUnless(shaped.status == 0, "this kernel cannot shape a link with tc's tbf: \(shaped.errors)")
    }

    func testHelpSaysHowToRunIt() throws {
        XCTAssertEqual(try run(["--help"]), 0, errors())
        XCTAssertTrue(output().contains("benchmarks/links.sh [RATES] [BATCHES] [EPOCHS]"), output())
        XCTAssertTrue(output().contains("tbf"), output())
    }

    /// Each bad argument is one line naming it and a non-zero exit, before a namespace is made.
    func testBadArgumentsAreOneLineEach() throws {
        let cases: [([String], [String: String], String)] = [
            (["fast"], [:], "rate 'fast' is not 'unlimited' or a tc rate"),
            (["1gbit", "0"], [:], "batch '0' is not a positive whole number"),
            (["1gbit", "128", "two"], [:], "epochs 'two' is not a positive whole number"),
            (["1gbit"], ["SYSTEMS": "star ring"], "SYSTEMS names 'ring': the systems are star, servers, ddp, ceiling and spread"),
            (["1gbit"], ["PRECISIONS": "float16"], "PRECISIONS names 'float16'"),
            (["1gbit"], ["SPREAD_SERVERS": "1 8"], "SPREAD_SERVERS names '8': from 0 to 4 servers"),
            (["1gbit"], ["MNIST": folder + "/nowhere"], "no MNIST at \(folder)/nowhere"),
        ]
        for (arguments, environment, message) in cases {
            let process = try start(arguments, environment)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 2, "\(arguments) \(environment): \(errors())")
            XCTAssertEqual(errors().split(separator: "\n").count, 1, errors())
            XCTAssertTrue(errors().contains(message), "\(message) not in: \(errors())")
            XCTAssertEqual(try namespaces(of: process.processIdentifier), [])
        }
    }

    /// One short star run across 1 Gbit/s links: a row of figures whose busiest link is the
    /// coordinator's, carrying two packed float32 gradients in (about 5 bytes a parameter each)
    /// and two copies of the weights out (4 bytes a parameter) a step; the same bytes in for the
    /// star's ceiling measured across the links, and eight gradients into the one server of the
    /// ceiling with servers; and then no namespace left.
    func testRunsAcrossShapedLinksCountTheBusiestLinksBytesAndLeaveNothing() throws {
        try skipUnlessNamespacesCanBeMade()
        let process = try start(["1gbit", "512", "2"], ["SYSTEMS": "star ceiling spread", "SPREAD_SERVERS": "1",
                                                                 "PRECISIONS": "float32", "CEILING_STEPS": "40"])
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output() + errors())
        XCTAssertTrue(output().contains("links: tbf rate 1gbit"), output())
        let row = String(try XCTUnwrap(output().split(separator: "\n").first { $0.hasPrefix("1gbit") && $0.contains("star-float32") }, output()))
        let fields = row.split(separator: " ").map(String.init)
        let number = { (field: String) in Double(field.replacingOccurrences(of: ",", with: "")) ?? -1 }
        XCTAssertGreaterThan(number(fields[3]), 0, row)
        XCTAssertEqual(fields[5], "coordinator", row)
        let parameters = 784.0 * 128 + 128 + 128 * 10 + 10
        XCTAssertEqual(number(fields[6]) * 1000 / (2 * 5 * parameters), 1, accuracy: 0.15, "bytes in a step: \(row)")
        XCTAssertEqual(number(fields[7]) * 1000 / (2 * 4 * parameters), 1, accuracy: 0.15, "bytes out a step: \(row)")
        // The star's ceiling across the same links: bench ceiling --bind on the coordinator host, --connect on the workers'.
        let ceiling = try XCTUnwrap(output().split(separator: "\n").first { $0.hasPrefix("1gbit") && $0.contains("ceiling-float32") }, output())
        let ceilingFields = ceiling.split(separator: " ").map(String.init)
        XCTAssertGreaterThan(number(ceilingFields[3]), 0, String(ceiling))
        XCTAssertEqual(ceilingFields[5], "coordinator", String(ceiling))
        XCTAssertEqual(number(ceilingFields[6]) * 1000 / (2 * 5 * parameters), 1, accuracy: 0.15, "bytes in a step: \(ceiling)")
        // 8 simulated workers on 4 hosts against one parameter server on a host of its own: the
        // server's link is the busiest, taking 8 packed gradients a step.
        let spread = try XCTUnwrap(output().split(separator: "\n").first { $0.hasPrefix("1gbit") && $0.contains("spread-k1-float32") }, output())
        let spreadFields = spread.split(separator: " ").map(String.init)
        XCTAssertEqual(spreadFields[5], "server-1", String(spread))
        XCTAssertEqual(number(spreadFields[6]) * 1000 / (8 * 5 * parameters), 1, accuracy: 0.15, "bytes in a step: \(spread)")
        XCTAssertTrue(output().contains("servers/star"), output())
        XCTAssertEqual(try namespaces(of: process.processIdentifier), [])
    }

    /// Interrupted mid-run (kill -INT, as Ctrl-C), the script removes its namespaces and every
    /// process it started in them.
    func testAnInterruptedRunLeavesNoNamespaceAndNoProcess() throws {
        try skipUnlessNamespacesCanBeMade()
        let process = try start(["1gbit", "128", "20"], ["SYSTEMS": "star", "PRECISIONS": "float32"])
        defer { if process.isRunning { process.terminate() } }
        let pid = process.processIdentifier
        // Wait for the coordinator and both workers to be running in their hosts.
        var running: [Int32] = []
        let deadline = Date().addingTimeInterval(60)
        while running.count < 3 && Date() < deadline && process.isRunning {
            Thread.sleep(forTimeInterval: 0.2)
            running = try ["c", "w1", "w2"].flatMap { host in
                try runToEnd("/usr/bin/env", ["ip", "netns", "pids", "dpt-\(pid)-\(host)"]).output.split(separator: "\n").compactMap { Int32($0) }
            }
        }
        XCTAssertEqual(running.count, 3, output() + errors())
        kill(pid, SIGINT)
        let stopped = Date().addingTimeInterval(30)
        while process.isRunning && Date() < stopped { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertFalse(process.isRunning, "still running 30 s after SIGINT")
        XCTAssertEqual(process.terminationStatus, 130, errors())
        XCTAssertTrue(errors().contains("interrupted; removing its namespaces"), errors())
        XCTAssertEqual(try namespaces(of: pid), [])
        for started in running { XCTAssertNotEqual(kill(started, 0), 0, "process \(started) is still running") }
    }
}
