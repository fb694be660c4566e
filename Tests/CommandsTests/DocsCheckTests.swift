import Foundation
import XCTest

/// Tests/tools/check_docs.py, which deploy/test.sh runs over README.md and docs/*.md: it must fail
/// on a broken command, naming its file, line and command, or its passing would prove nothing.
final class DocsCheckTests: XCTestCase {
    static let checker = ObservabilityProcessTests.tools + "/check_docs.py"
    /// The folder of the built dptrain, coordinator and worker that the checker puts on PATH.
    static let binaries = URL(fileURLWithPath: ProcessTests.executable).deletingLastPathComponent().path
    let folder = NSTemporaryDirectory() + "dptrain-docs-check-\(UUID().uuidString)"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    /// Writes `markdown` to a file and runs the checker on it alone.
    func check(_ markdown: String) throws -> (status: Int32, output: String, errors: String, path: String) {
        let path = folder + "/page.md"
        try markdown.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runToEnd("/usr/bin/env", ["python3", Self.checker, "--bin", Self.binaries, "--timeout", "60", path])
        return (result.status, result.output, result.errors, path)
    }

    func testAMistypedCommandFailsTheCheckWithItsFileLineAndCommand() throws {
        let result = try check("""
            # A page

            ```sh
            dptrain --version
            dptrain tran --epochs 1
            ```
            """)
        XCTAssertEqual(result.status, 1, result.output + result.errors)
        XCTAssertTrue(result.errors.contains("\(result.path):5: exited 64: dptrain tran --epochs 1"), result.errors)
        XCTAssertTrue(result.errors.contains("'tran' is not a dptrain command: did you mean `dptrain train`?"), result.errors)
    }

    func testWorkingCommandsPassAndTextBlocksAreNotRun() throws {
        let result = try check("""
            ```sh
            dptrain --version
            coordinator --version && worker --version
            ```

            ```text
            dptrain tran
            ```
            """)
        XCTAssertEqual(result.status, 0, result.output + result.errors)
        XCTAssertTrue(result.output.contains("passed: 1 blocks ran as written"), result.output)
    }

    /// A reader pastes a block and sees a background process fail: so does the check.
    func testAFailedBackgroundProcessFailsTheCheck() throws {
        let result = try check("""
            ```sh
            coordinator --bind ipc://nowhere/x.sock --workers 0 &
            echo started
            wait
            ```
            """)
        XCTAssertEqual(result.status, 1, result.output + result.errors)
        XCTAssertTrue(result.errors.contains("\(result.path):2: exited 64 (started in the background): coordinator --bind"), result.errors)
    }

    func testAPageWithNothingToRunOrALinkToNowhereFails() throws {
        let empty = try check("```text\ndptrain train\n```\n")
        XCTAssertEqual(empty.status, 1)
        XCTAssertTrue(empty.errors.contains("no ```sh block found"), empty.errors)

        let linked = try check("See [the guide](no-such-page.md).\n\n```sh\ndptrain --version\n```\n")
        XCTAssertEqual(linked.status, 1)
        XCTAssertTrue(linked.errors.contains("page.md:1: a link to no-such-page.md: no such file"), linked.errors)
    }
}
