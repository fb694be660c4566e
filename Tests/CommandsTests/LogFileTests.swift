import Foundation
import XCTest

/// The metrics file is the run's record, not the run: one that cannot be written is a warning,
/// and a path that names a device or a pipe is written in place, never replaced by a file.
final class LogFileTests: XCTestCase {
    /// A full disk (/dev/full fails every write with ENOSPC): the run trains to the end and
    /// exits 0, saying once what is lost and why; /dev/full is still the device it was.
    func testAMetricsFileThatCannotBeWrittenIsOneWarningNotAFailure() throws {
        var before = stat()
        try XCTSkipUnless(stat("/dev/full", &before) == 0 && before.st_mode & S_IFMT == S_IFCHR, "no /dev/full device here")
        let result = try Run.dptrain(["train", "--epochs", "1", "--metrics", "/dev/full", "--log-every", "10"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.contains("done: test accuracy"), result.output)
        let warnings = result.errors.split(separator: "\n").filter { $0.hasPrefix("warning: --metrics: no space left on device (ENOSPC) writing /dev/full; ") }
        XCTAssertEqual(warnings.count, 1, result.errors)
        var after = stat()
        XCTAssertEqual(stat("/dev/full", &after), 0)
        XCTAssertEqual(after.st_mode & S_IFMT, S_IFCHR, "/dev/full must stay a device")
        XCTAssertEqual(after.st_rdev, before.st_rdev)
    }

    /// `--metrics /dev/stdout` puts the JSON lines among the run's output; a named pipe gets them
    /// as they are written and stays a pipe.
    func testMetricsGoToStandardOutputOrAPipe() throws {
        let result = try Run.dptrain(["train", "--epochs", "1", "--metrics", "/dev/stdout"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.contains("\"event\":\"run\""), result.output)
        XCTAssertTrue(result.output.contains("\"event\":\"done\""), result.output)

        let folder = NSTemporaryDirectory() + "dptrain-pipe-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pipe = folder + "/metrics"
        XCTAssertEqual(mkfifo(pipe, 0o600), 0)
        var received = Data()
        let reading = Thread {
            if let handle = FileHandle(forReadingAtPath: pipe) { received = handle.readDataToEndOfFile() }
        }
        reading.start()
        let piped = try Run.dptrain(["train", "--epochs", "1", "--metrics", pipe])
        XCTAssertEqual(piped.status, 0, piped.errors)
        while reading.isExecuting || !reading.isFinished { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertTrue(String(decoding: received, as: UTF8.self).contains("\"event\":\"done\""))
        var info = stat()
        XCTAssertEqual(stat(pipe, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "the pipe must stay a pipe")
    }
}
