import Foundation
import XCTest
@testable import Supervision

/// Real children, made of /bin/sh scripts: what they print, how they end, and what is left running.
final class ProcessGroupTests: XCTestCase {
    /// Everything a group passes on, in order, one entry per sink call.
    final class Captured {
        private let lock = NSLock()
        private var calls: [(ProcessGroup.Stream, String)] = []

        func sink(_ stream: ProcessGroup.Stream, _ lines: String) {
            lock.lock()
            calls.append((stream, lines))
            lock.unlock()
        }

        func lines(_ stream: ProcessGroup.Stream) -> [String] {
            lock.lock()
            defer { lock.unlock() }
            return calls.filter { $0.0 == stream }.flatMap { $0.1.split(separator: "\n").map(String.init) }
        }

        var everyCallIsWholeLines: Bool {
            lock.lock()
            defer { lock.unlock() }
            return calls.allSatisfy { $0.1.hasSuffix("\n") }
        }
    }

    let captured = Captured()

    func makeGroup(gracePeriod: TimeInterval = 1, maxRestarts: Int = 0) -> ProcessGroup {
        ProcessGroup(name: "test", gracePeriod: gracePeriod, maxRestarts: maxRestarts, sink: captured.sink)
    }

    func start(_ group: ProcessGroup, _ name: String, _ script: String) throws {
        try group.start(name: name, executable: "/bin/sh", arguments: ["-c", script])
    }

    func testOutputOfTwoChildrenArrivesPrefixedInWholeLines() throws {
        let group = makeGroup()
        // "a" writes half a line, waits while "b" writes whole ones, then finishes it; its last line has no newline.
        try start(group, "a", "printf 'one\\ntw'; sleep 0.3; printf 'o\\nthree'")
        try start(group, "b", "sleep 0.1; echo b1; echo b2 >&2")
        let ended = group.wait()

        XCTAssertEqual(ended.map(\.name), ["a", "b"])
        XCTAssertEqual(ended.map(\.termination), [.exited(0), .exited(0)])
        XCTAssertEqual(captured.lines(.output).filter { $0.hasPrefix("[a] ") }, ["[a] one", "[a] two", "[a] three"])
        XCTAssertEqual(captured.lines(.output).filter { $0.hasPrefix("[b] ") }, ["[b] b1"])
        XCTAssertEqual(captured.lines(.errors), ["[b] b2"])
        XCTAssertTrue(captured.everyCallIsWholeLines)
    }

    func testFailingChildStopsALongRunningSibling() throws {
        let group = makeGroup()
        try start(group, "sleeper", "sleep 60")
        try start(group, "failer", "sleep 0.2; exit 3")
        let ended = group.wait()

        XCTAssertEqual(ended.map(\.name), ["sleeper", "failer"])
        XCTAssertEqual(ended[0].termination, .signalled(SIGTERM), "the sleeper was stopped, not left to run its 60 s")
        XCTAssertEqual(ended[1].termination, .exited(3))
        XCTAssertEqual(captured.lines(.errors), ["[test] failer exited with status 3: stopping the others"])
    }

    /// What the SIGINT and SIGTERM handlers do, without signalling the test process.
    func testStopEndsEveryChild() throws {
        let group = makeGroup()
        try start(group, "one", "sleep 60")
        try start(group, "two", "sleep 60")
        group.stop(reason: "SIGTERM received: stopping every process")
        let ended = group.wait()

        XCTAssertEqual(ended.map(\.termination), [.signalled(SIGTERM), .signalled(SIGTERM)])
        XCTAssertEqual(captured.lines(.errors), ["[test] SIGTERM received: stopping every process"])
        XCTAssertThrowsError(try start(group, "late", "true"))
    }

    /// A coordinator that finished leaves its workers the grace period, then they are stopped.
    func testChildThatEndsTheGroupStopsTheOthersAfterTheGracePeriod() throws {
        let group = makeGroup(gracePeriod: 1)
        try group.start(name: "leader", executable: "/bin/sh", arguments: ["-c", "exit 0"], endsTheGroup: true)
        try start(group, "follower", "sleep 60")
        try start(group, "prompt", "sleep 0.2")
        let ended = group.wait()

        XCTAssertEqual(ended.map(\.termination), [.exited(0), .signalled(SIGTERM), .exited(0)])
        XCTAssertEqual(captured.lines(.errors), ["[test] leader finished but follower still running 1s later: stopping them"])
    }

    /// A sibling started after the ending child has already finished is stopped after the grace period too.
    func testSiblingStartedAfterTheEndOfTheGroupIsStopped() throws {
        let group = makeGroup(gracePeriod: 1)
        try group.start(name: "leader", executable: "/bin/sh", arguments: ["-c", "exit 0"], endsTheGroup: true)
        Thread.sleep(forTimeInterval: 0.5)  // the leader has ended
        try start(group, "latecomer", "sleep 60")
        XCTAssertEqual(group.wait().map(\.termination), [.exited(0), .signalled(SIGTERM)], "the latecomer was stopped, not left to run")
    }

    func testChildIgnoringSIGTERMIsKilledAfterTheGracePeriod() throws {
        let group = makeGroup(gracePeriod: 1)
        try start(group, "stubborn", "trap '' TERM; echo trapped; sleep 60")
        // Until the trap is set: a fixed pause was too short on a loaded machine.
        let deadline = Date().addingTimeInterval(30)
        while !captured.lines(.output).contains("[stubborn] trapped") && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        group.stop(reason: "stopping")
        let ended = group.wait()

        // Killed, and only once the grace period was over, as its line says.
        XCTAssertEqual(ended[0].termination, .signalled(SIGKILL))
        XCTAssertEqual(captured.lines(.errors), ["[test] stopping", "[test] stubborn still running 1s after SIGTERM: killing"])
    }

    /// A child's own children (sh's background sleep) go with it: nothing is left as an orphan.
    func testNothingAChildStartedOutlivesIt() throws {
        let pidFile = NSTemporaryDirectory() + "dptrain-group-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let group = makeGroup()
        try start(group, "parent", "sleep 60 & echo $! > \(pidFile); exit 0")
        XCTAssertEqual(group.wait().map(\.termination), [.exited(0)])

        let grandchild = try XCTUnwrap(pid_t(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertFalse(isAlive(grandchild), "the background sleep survived")
    }

    /// Whether `pid` runs; a zombie waiting for init to reap it does not.
    func isAlive(_ pid: pid_t) -> Bool {
        for _ in 0..<20 {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            guard let state = stat.split(separator: ")").last?.split(separator: " ").first, state != "Z" else { return false }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return true
    }

    func testMissingExecutableIsOneLine() {
        let group = makeGroup()
        XCTAssertThrowsError(try group.start(name: "ghost", executable: "/nowhere/dptrain", arguments: [])) { error in
            XCTAssertEqual("\(error)", "cannot start ghost (/nowhere/dptrain): No such file or directory")
        }
        XCTAssertTrue(group.wait().isEmpty)
    }

    // MARK: - Restarts

    /// A child that fails once is started again with its restart arguments and ends well; the group goes on.
    func testFailedChildIsRestartedWithItsRestartArguments() throws {
        let marker = NSTemporaryDirectory() + "dptrain-restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let group = makeGroup(maxRestarts: 3)
        try group.start(name: "flaky", executable: "/bin/sh", arguments: ["-c", "touch \(marker); exit 3"],
                        restartArguments: ["-c", "test -e \(marker) && echo second run"])
        let ended = group.wait()

        XCTAssertEqual(ended.map(\.termination), [.exited(0)])
        XCTAssertEqual(group.restarts.map(\.name), ["flaky"])
        XCTAssertEqual(group.restarts.map(\.termination), [.exited(3)])
        let pid = try XCTUnwrap(group.restarts.first?.pid)
        XCTAssertEqual(captured.lines(.errors), ["[test] flaky exited with status 3: restarted it as pid \(pid) (restart 1 of 3)"])
        XCTAssertEqual(captured.lines(.output), ["[flaky] second run"])
    }

    /// The budget is the group's: once it is spent, the next failure stops every child, saying so.
    func testFailureAfterTheLastRestartStopsTheGroup() throws {
        let group = makeGroup(maxRestarts: 2)
        try start(group, "sleeper", "sleep 60")
        try group.start(name: "crasher", executable: "/bin/sh", arguments: ["-c", "exit 5"], restartArguments: ["-c", "exit 5"])
        let ended = group.wait()

        XCTAssertEqual(ended.map(\.termination), [.signalled(SIGTERM), .exited(5)])
        XCTAssertEqual(group.restarts.count, 2)
        XCTAssertEqual(captured.lines(.errors).last, "[test] crasher exited with status 5, and all 2 restarts are used: stopping the others")
    }

    /// A status that a restart cannot cure stops the group at once, restarts left or not, and is
    /// said once; another status from the same child is restarted.
    func testAnIncurableStatusIsNotRestarted() throws {
        let group = ProcessGroup(name: "test", gracePeriod: 1, maxRestarts: 3, incurableStatuses: [78], sink: captured.sink)
        try start(group, "sleeper", "sleep 60")
        try group.start(name: "misconfigured", executable: "/bin/sh", arguments: ["-c", "echo 'bad flags' >&2; exit 78"],
                        restartArguments: ["-c", "echo 'bad flags' >&2; exit 78"])
        XCTAssertEqual(group.wait().map(\.termination), [.signalled(SIGTERM), .exited(78)])
        XCTAssertTrue(group.restarts.isEmpty)
        // Each line once; the child's own line and the group's come through different pipes, in either order.
        XCTAssertEqual(captured.lines(.errors).sorted(), ["[misconfigured] bad flags",
                                                          "[test] misconfigured exited with status 78, which a restart cannot cure: stopping the others"])

        let curable = ProcessGroup(name: "test", gracePeriod: 1, maxRestarts: 1, incurableStatuses: [78], sink: { _, _ in })
        try curable.start(name: "flaky", executable: "/bin/sh", arguments: ["-c", "exit 1"], restartArguments: ["-c", "exit 0"])
        XCTAssertEqual(curable.wait().map(\.termination), [.exited(0)])
        XCTAssertEqual(curable.restarts.count, 1)
    }

    /// A child without restart arguments stops the group when it fails, whatever the budget.
    func testChildWithoutRestartArgumentsStopsTheGroup() throws {
        let group = makeGroup(maxRestarts: 3)
        try start(group, "sleeper", "sleep 60")
        try start(group, "failer", "exit 2")
        XCTAssertEqual(group.wait().map(\.termination), [.signalled(SIGTERM), .exited(2)])
        XCTAssertTrue(group.restarts.isEmpty)
    }

    /// Once the child that ends the group has finished, a failing child is not started again:
    /// there is nothing left for it to do.
    func testNothingIsRestartedAfterTheGroupsEnd() throws {
        let group = makeGroup(maxRestarts: 3)
        try group.start(name: "leader", executable: "/bin/sh", arguments: ["-c", "exit 0"], endsTheGroup: true)
        try group.start(name: "follower", executable: "/bin/sh", arguments: ["-c", "sleep 0.3; exit 1"], restartArguments: ["-c", "exit 1"])
        XCTAssertEqual(group.wait().map(\.termination), [.exited(0), .exited(1)])
        XCTAssertTrue(group.restarts.isEmpty)
    }
}
