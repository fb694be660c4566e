import Foundation
import XCTest

/// The deploy scripts stop where they must and go on where they must, run for real on a
/// sandbox: the script itself, copied into a folder where the commands it calls (swift, the
/// install and test scripts) are small stand-ins that fail or leave a mark.
final class DeployScriptTests: XCTestCase {
    let sandbox = NSTemporaryDirectory() + "dptrain-deploy-\(UUID().uuidString)"
    /// The repository, found from this file's path.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    override func tearDown() { try? FileManager.default.removeItem(atPath: sandbox) }

    /// Writes an executable script at `path` in the sandbox.
    func stub(_ path: String, _ body: String) throws {
        let file = "\(sandbox)/\(path)"
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try ("#!/usr/bin/env bash\n" + body + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o755)
    }

    /// Copies the repository's `script` into the sandbox and runs it there, with the sandbox's bin first on PATH.
    func run(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String, errors: String) {
        try FileManager.default.createDirectory(atPath: "\(sandbox)/deploy", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.repository)/\(script)", toPath: "\(sandbox)/\(script)")
        let environment = ["PATH": "\(sandbox)/bin:/usr/bin:/bin", "MARKS": "\(sandbox)/marks"]
        return try runToEnd("/usr/bin/env", environment.map { "\($0)=\($1)" } + ["bash", "\(sandbox)/\(script)"] + arguments)
    }

    func marks() -> [String] {
        ((try? String(contentsOfFile: "\(sandbox)/marks", encoding: .utf8)) ?? "").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// A failed build stops train.sh before it trains: the binary an earlier build left is not run.
    func testTrainShStopsWhenTheBuildFails() throws {
        try stub("deploy/install-deps.sh", "exit 0")
        try stub("bin/swift", "echo 'error: the build failed on purpose' >&2; exit 1")
        try stub(".build/release/dptrain", "echo \"old binary $*\" >> \"$MARKS\"")
        let result = try run("deploy/train.sh", ["--epochs", "1"])
        XCTAssertNotEqual(result.status, 0, result.output + result.errors)
        XCTAssertEqual(marks(), [], "the old binary trained")
        XCTAssertTrue(result.output.contains("error: the build failed on purpose"), result.output)
        XCTAssertTrue(result.errors.contains("train.sh: the build failed (see the messages above); nothing was trained"), result.errors)

        // The same sandbox with a build that works trains with it.
        try stub("bin/swift", "exit 0")
        try FileManager.default.removeItem(atPath: "\(sandbox)/deploy/train.sh")
        let trained = try run("deploy/train.sh", ["--epochs", "1"])
        XCTAssertEqual(trained.status, 0, trained.errors)
        XCTAssertEqual(marks(), ["old binary launch --workers 2 --epochs 1"])
    }

    /// A failed Swift test does not hide the deployment tests: they all run, and test.sh says
    /// what failed and exits non-zero.
    func testTestShRunsTheDeploymentTestsAfterASwiftFailure() throws {
        try XCTSkipUnless(getuid() == 0, "deploy/test.sh runs the archive's tests only as root")
        for script in ["deploy/install-deps.sh", "deploy/install-test-deps.sh"] { try stub(script, "exit 0") }
        try stub("bin/swift", "echo \"swift $*\" >> \"$MARKS\"; exit 1")
        try stub("bin/python3", "echo \"python3 $*\" >> \"$MARKS\"")
        try stub("deploy/release.sh", "echo \"release\" >> \"$MARKS\"; echo \"1M /tmp/dptrain-test.tar.gz (dptrain)\"")
        for script in ["Fuzz/run.sh", "deploy/test-sanitizers.sh", "deploy/kubernetes/test-kubernetes.sh", "deploy/test-release.sh", "deploy/systemd/test-systemd.sh",
                       "deploy/container/test-container.sh", "deploy/slurm/test-slurm.sh"] {
            try stub(script, "echo \"\(script) $*\" >> \"$MARKS\"" + (script.contains("systemd") ? "; exit 3" : ""))
        }
        let result = try run("deploy/test.sh")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(marks(), ["swift test --disable-swift-testing", "python3 Tests/tools/check_docs.py", "Fuzz/run.sh --seconds 20",
                                 "deploy/test-sanitizers.sh", "deploy/kubernetes/test-kubernetes.sh", "release",
                                 "deploy/test-release.sh /tmp/dptrain-test.tar.gz", "deploy/systemd/test-systemd.sh /tmp/dptrain-test.tar.gz",
                                 "deploy/container/test-container.sh /tmp/dptrain-test.tar.gz", "deploy/slurm/test-slurm.sh /tmp/dptrain-test.tar.gz"])
        XCTAssertTrue(result.errors.contains("test.sh: FAILED: swift test, deploy/systemd/test-systemd.sh"), result.errors)
    }
}
