import Foundation
import XCTest
@testable import Dataset

/// Good and bad IDX files, made here, read through the loader a user runs.
final class IDXFileTests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "dptrain-idx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// An IDX file of bytes: magic 0x000008NN, big-endian dimensions, data.
    static func idx(_ dimensions: [Int], _ data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 8, UInt8(dimensions.count)]
        for d in dimensions { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return bytes + data
    }

    /// Writes a small MNIST-layout set of `count` 2x3 images; `edit` changes a file's bytes first.
    func writeSet(trainCount: Int = 6, testCount: Int = 4, gzip: Bool = false,
                  edit: (String, inout [UInt8]) -> Void = { _, _ in }) throws {
        let stems = MNIST.fileStems
        let files: [(String, [UInt8])] = [
            (stems.trainImages, Self.idx([trainCount, 2, 3], (0..<(trainCount * 6)).map { UInt8($0 % 256) })),
            (stems.trainLabels, Self.idx([trainCount], (0..<trainCount).map { UInt8($0 % 3) })),
            (stems.testImages, Self.idx([testCount, 2, 3], [UInt8](repeating: 255, count: testCount * 6))),
            (stems.testLabels, Self.idx([testCount], (0..<testCount).map { UInt8($0 % 3) })),
        ]
        for (stem, original) in files {
            var bytes = original
            edit(stem, &bytes)
            let path = folder + "/" + stem + (gzip ? ".gz" : "")
            try Data(bytes).write(to: URL(fileURLWithPath: path + (gzip ? ".raw" : "")))
            if gzip {
                try run("/bin/sh", ["-c", "gzip -n -c '\(path).raw' > '\(path)' && rm '\(path).raw'"])
            }
        }
    }

    func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func loadError(_ directory: String? = nil) -> DatasetError? {
        do {
            _ = try MNIST(directory: directory ?? folder)
            return nil
        } catch {
            return error as? DatasetError
        }
    }

    func testReadsRawAndGzippedSets() throws {
        for gzip in [false, true] {
            try writeSet(gzip: gzip)
            let set = try MNIST(directory: folder)
            XCTAssertEqual(set.train.count, 6)
            XCTAssertEqual(set.test.count, 4)
            XCTAssertEqual(set.train.featureCount, 6)
            XCTAssertEqual(set.train.classCount, 3)
            XCTAssertEqual(Array(set.train.pixels[6..<12]), [6, 7, 8, 9, 10, 11])
            var inputs = [Float](repeating: 0, count: 12)
            var labels = [UInt8](repeating: 9, count: 2)
            set.test.gather([3, 0], inputs: &inputs, labels: &labels)
            XCTAssertEqual(inputs, [Float](repeating: 1, count: 12))
            XCTAssertEqual(labels, [0, 0])
            try FileManager.default.contentsOfDirectory(atPath: folder).forEach { try FileManager.default.removeItem(atPath: folder + "/" + $0) }
        }
    }

    func testBundledMNISTLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let set = try MNIST(directory: root.appendingPathComponent("data/mnist").path)
        XCTAssertEqual(set.train.count, 60_000)
        XCTAssertEqual(set.test.count, 10_000)
        XCTAssertEqual(set.train.featureCount, 784)
        XCTAssertEqual(set.train.classCount, 10)
        XCTAssertEqual(set.train.labels.prefix(5), [5, 0, 4, 1, 9])
    }

    func testMissingDirectory() {
        let error = loadError(folder + "/nowhere")
        XCTAssertEqual(error?.kind, .missingDirectory)
        XCTAssertTrue(error?.description.contains("--data") ?? false)
    }

    func testMissingFile() throws {
        try writeSet()
        try FileManager.default.removeItem(atPath: folder + "/" + MNIST.fileStems.testLabels)
        XCTAssertEqual(loadError()?.kind, .missingFile)
        XCTAssertTrue(loadError()?.description.contains("t10k-labels-idx1-ubyte") ?? false)
    }

    func testWrongMagic() throws {
        try writeSet { stem, bytes in if stem == MNIST.fileStems.trainImages { bytes[2] = 0x0D } }
        XCTAssertEqual(loadError()?.kind, .badMagic)
        // A labels file where an images file belongs: right type, wrong dimension count.
        try writeSet { stem, bytes in
            if stem == MNIST.fileStems.trainImages { bytes = IDXFileTests.idx([6], [UInt8](repeating: 0, count: 6)) }
        }
        XCTAssertEqual(loadError()?.kind, .badMagic)
    }

    func testTruncatedRawFile() throws {
        try writeSet { stem, bytes in if stem == MNIST.fileStems.trainImages { bytes.removeLast(5) } }
        let error = loadError()
        XCTAssertEqual(error?.kind, .truncated)
        XCTAssertTrue(error?.description.contains("36 bytes of data but the file holds 31") ?? false, error?.description ?? "")
        try writeSet { stem, bytes in if stem == MNIST.fileStems.testLabels { bytes = [0, 0, 8] } }
        XCTAssertEqual(loadError()?.kind, .truncated)
    }

    func testTrailingBytes() throws {
        try writeSet { stem, bytes in if stem == MNIST.fileStems.trainLabels { bytes += [1, 2] } }
        XCTAssertEqual(loadError()?.kind, .sizeMismatch)
    }

    func testTruncatedGzip() throws {
        try writeSet(gzip: true)
        let path = folder + "/" + MNIST.fileStems.trainImages + ".gz"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(loadError()?.kind, .truncated)
    }

    /// A header that promises far more than the file holds (here 5 GB, past zlib's 32-bit
    /// counts) costs only what the data inflates to, and is refused with both figures.
    func testGzipWhoseHeaderPromisesGigabytes() throws {
        // Random bytes do not compress, so 5 MB of them are a plausible source of 5 GB to deflate.
        let noise = [UInt8](try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: 5_000_000))
        try writeSet(gzip: true) { stem, bytes in
            if stem == MNIST.fileStems.trainImages { bytes = IDXFileTests.idx([5, 1000, 1_000_000], noise) }
        }
        let error = loadError()
        XCTAssertEqual(error?.kind, .truncated)
        XCTAssertTrue(error?.description.contains("it inflates to 5000016 of the 5000000016 bytes its header promises") ?? false,
                      error?.description ?? "")
    }

    func testCorruptGzip() throws {
        try writeSet(gzip: true)
        let path = folder + "/" + MNIST.fileStems.testImages + ".gz"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        for i in 10..<(bytes.count - 8) { bytes[i] ^= 0xA5 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertNotNil(loadError())
        XCTAssertTrue([.corruptGzip, .truncated, .sizeMismatch].contains(loadError()?.kind))
    }

    func testImageAndLabelCountsDisagree() throws {
        try writeSet { stem, bytes in
            if stem == MNIST.fileStems.trainLabels { bytes = IDXFileTests.idx([5], [0, 1, 2, 0, 1]) }
        }
        let error = loadError()
        XCTAssertEqual(error?.kind, .countMismatch)
        XCTAssertTrue(error?.description.contains("5 labels for 6 images") ?? false, error?.description ?? "")
    }

    func testTestLabelOutsideTrainingClasses() throws {
        try writeSet { stem, bytes in if stem == MNIST.fileStems.testLabels { bytes[bytes.count - 1] = 7 } }
        XCTAssertEqual(loadError()?.kind, .labelOutOfRange)
    }

    func testAbsurdDimensions() throws {
        try writeSet { stem, bytes in
            if stem == MNIST.fileStems.trainImages { bytes = IDXFileTests.idx([0x7FFF_FFFF, 0x7FFF_FFFF, 0x7FFF_FFFF], []) }
        }
        XCTAssertEqual(loadError()?.kind, .badDimensions)
    }
}
