import Foundation
import OutputFiles
import XCTest

/// Every file dptrain writes whole (model, checkpoint, report, keys) goes through `OutputFile`:
/// on a full disk the file that was there stays whole and the error names ENOSPC; a device or a
/// pipe is written in place, never replaced by a regular file.
final class OutputFileTests: XCTestCase {
    let folder = NSTemporaryDirectory() + "dptrain-output-\(UUID().uuidString)"
    override func setUpWithError() throws { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func testAFullDiskKeepsThePreviousFileAndNamesTheCause() throws {
        let disk = try SmallDisk(kilobytes: 64)
        defer { disk.remove() }
        let path = disk.path + "/model.safetensors"
        try OutputFile.write("the previous model", to: path)
        XCTAssertThrowsError(try OutputFile.write([UInt8](repeating: 7, count: 200_000), to: path)) { error in
            XCTAssertEqual((error as? FileError)?.code, ENOSPC)
            XCTAssertTrue("\(error)".hasPrefix("no space left on device (ENOSPC) writing \(path): free space on that disk"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "the previous model")
        XCTAssertEqual(disk.names(), ["model.safetensors"], "no temporary file is left behind")
    }

    /// A character device made here (the full device, 1:7) stays a device: it is written in place and
    /// its ENOSPC reported. Before, the rename had replaced the node with a regular file.
    func testADeviceIsWrittenInPlaceNeverReplaced() throws {
        let device = folder + "/full"
        try XCTSkipUnless(mknod(device, S_IFCHR | 0o666, dev_t(1 << 8 | 7)) == 0, "cannot make a device node here (root is needed)")
        XCTAssertThrowsError(try OutputFile.write("weights", to: device)) { error in
            XCTAssertEqual((error as? FileError)?.code, ENOSPC, "\(error)")
        }
        var info = stat()
        XCTAssertEqual(stat(device, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "the device must stay a device")
        try OutputFile.write("discarded", to: "/dev/null")
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR)
    }

    func testAPipeIsWrittenInPlace() throws {
        let pipe = folder + "/pipe"
        XCTAssertEqual(mkfifo(pipe, 0o600), 0)
        var received = ""
        let reader = Thread { received = FileHandle(forReadingAtPath: pipe).map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? "" }
        reader.start()
        try OutputFile.write("through the pipe", to: pipe)
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(received, "through the pipe")
        var info = stat()
        XCTAssertEqual(stat(pipe, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO)
    }

    /// A replaced file keeps its mode; a new one gets exactly the mode asked for; `.keep` never replaces.
    func testModesAndKeep() throws {
        let path = folder + "/file"
        try OutputFile.write("one", to: path, mode: 0o640)
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o7777, 0o640)
        try OutputFile.write("two", to: path)
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o7777, 0o640)
        XCTAssertThrowsError(try OutputFile.write("three", to: path, existing: .keep)) { XCTAssertEqual(($0 as? FileError)?.code, EEXIST) }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "two")
        XCTAssertThrowsError(try OutputFile.write("x", to: folder)) { XCTAssertEqual(($0 as? FileError)?.code, EISDIR) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["file"])
    }
}
