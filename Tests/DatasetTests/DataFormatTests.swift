import Foundation
import XCTest
@testable import Dataset

/// Every format `--data` takes, written here as the tools people use write them, and each kind of
/// bad data refused with one sentence naming the file, the row or array, and what to do.
final class DataFormatTests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "dptrain-formats-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func write(_ name: String, _ text: String) -> String {
        let path = folder + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    /// Runs a Python script with NumPy (a test dependency) in the test's folder.
    func python(_ script: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import numpy as np, os\nos.chdir('\(folder!)')\n" + script]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python failed")
    }

    func error(_ path: String, labelColumn: String? = nil) -> DatasetError? {
        do {
            _ = try DataFile.load(path: path, labelColumn: labelColumn)
            XCTFail("\(path) was read")
            return nil
        } catch {
            XCTAssertTrue(error is DatasetError, "\(error)")
            return error as? DatasetError
        }
    }

    // MARK: CSV

    func testCSVOfBytesStaysBytesAndOfFloatsBecomesFloats() throws {
        let bytes = try DataFile.load(path: write("b.csv", "0,0,255,3\n1,7,0,0\r\n2,1,2,3\n"))
        XCTAssertEqual(bytes.train.featureType, .uint8)
        XCTAssertEqual(bytes.train.pixels, [0, 255, 3, 7, 0, 0, 1, 2, 3])
        XCTAssertEqual(bytes.train.labels, [0, 1, 2])
        XCTAssertEqual(bytes.train.classCount, 3)
        XCTAssertNil(bytes.test)

        // A float after bytes turns the rows read so far into floats too.
        let floats = try DataFile.load(path: write("f.csv", "a,b,label\n1,2,0\n0.5,-3e2,1\n"), labelColumn: "label")
        XCTAssertEqual(floats.train.featureType, .float32)
        XCTAssertEqual(floats.train.values, [1, 2, 0.5, -300])
        XCTAssertEqual(floats.train.labels, [0, 1])

        let last = try DataFile.load(path: write("l.csv", "1,2,0\n3,4,1\n"), labelColumn: "-1")
        XCTAssertEqual(last.train.pixels, [1, 2, 3, 4])
    }

    func testBadCSVsAreRefusedNamingTheLine() throws {
        let cases: [(String, String, String?, DatasetError.Kind, String)] = [
            ("ragged.csv", "0,1,2\n1,1\n", nil, .raggedRow, "line 2: 2 cells where the first row has 3; every row needs the same columns"),
            ("word.csv", "0,1,2\n1,x,2\n", nil, .notNumeric, "line 2: column 1 is \"x\", not a number; dptrain takes numeric columns only (encode categories as numbers)"),
            ("empty-cell.csv", "0,1,2\n1,,2\n", nil, .notNumeric, "line 2: column 1 is empty; fill in or drop the row"),
            ("nan.csv", "0,1,2\n1,nan,2\n", nil, .nonFinite, "line 2: column 1 is nan; replace missing or infinite values before training"),
            ("inf.csv", "0,1,2\n1,2,-inf\n", nil, .nonFinite, "line 2: column 2 is -inf; replace missing or infinite values before training"),
            ("fraction.csv", "0,1,2\n1.5,1,2\n", nil, .labelNotInteger, "line 2 has label 1.5, not a class number: labels must be whole numbers from 0 to 255"),
            ("negative.csv", "0,1,2\n-1,1,2\n", nil, .labelNotInteger, "line 2 has label -1.0, not a class number: labels must be whole numbers from 0 to 255"),
            ("large.csv", "0,1,2\n300,1,2\n", nil, .labelOutOfRange, "line 2: label 300: dptrain takes at most 256 classes, numbered 0 to 255"),
            // Found by Fuzz/Harnesses/data-files.swift: the error's own Int(label) trapped on a label past Int.max.
            ("huge.csv", "0,1,2\n1e300,1,2\n", nil, .labelOutOfRange, "line 2 has label 1e+300: dptrain takes at most 256 classes, numbered 0 to 255"),
            ("one-class.csv", "1,1,2\n1,3,4\n", nil, .oneClass, "every label is 1: a classifier needs at least two classes; check the label column"),
            ("header-only.csv", "label,a,b\n", nil, .emptyFile, "a header and no rows; write the data again"),
            ("named.csv", "0,1\n1,2\n", "label", .missingColumn, "--label-column label names a column, but the file has no header row; give the column's index instead"),
            ("absent.csv", "y,a\n0,1\n1,2\n", "label", .missingColumn, "no column named label; the header has y, a"),
        ]
        for (name, text, column, kind, detail) in cases {
            let path = write(name, text)
            let error = self.error(path, labelColumn: column)
            XCTAssertEqual(error?.kind, kind, name)
            XCTAssertEqual(error?.description, "\(path): \(detail)", name)
        }
        let empty = write("empty.csv", "")
        XCTAssertEqual(error(empty)?.description, "\(empty): the file is empty; write the data again")
    }

    // MARK: NumPy

    func testNpzAndNpyFolderReadAsKerasWritesThem() throws {
        try python("""
            x = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(4, 2, 3); y = np.array([0, 1, 2, 1], dtype=np.int64)
            np.savez('stored.npz', x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
            np.savez_compressed('deflated.npz', x_train=x.astype(np.float32) / 2, y_train=y)
            os.mkdir('arrays'); np.save('arrays/x_train.npy', x); np.save('arrays/y_train.npy', y.astype(np.uint8))
            """)
        let stored = try DataFile.load(path: folder + "/stored.npz")
        XCTAssertEqual(stored.sampleShape, [2, 3])
        XCTAssertEqual(stored.train.pixels, (0..<24).map { UInt8($0) })
        XCTAssertEqual(stored.train.labels, [0, 1, 2, 1])
        XCTAssertEqual(stored.test?.labels, [0, 1])
        XCTAssertEqual(stored.test?.classCount, 3)
        let deflated = try DataFile.load(path: folder + "/deflated.npz")
        XCTAssertEqual(deflated.train.values, (0..<24).map { Float($0) / 2 })
        XCTAssertNil(deflated.test)
        let arrays = try DataFile.load(path: folder + "/arrays")
        XCTAssertEqual(arrays.train.pixels, stored.train.pixels)
    }

    func testBadNumPyFilesAreRefused() throws {
        try python("""
            x = np.zeros((4, 3), dtype=np.float32); y = np.array([0, 1, 0, 1])
            np.savez('mismatch.npz', x_train=x, y_train=y[:3])
            np.savez('nan.npz', x_train=np.array([[0, 1], [np.nan, 2]], dtype=np.float32), y_train=y[:2])
            np.savez('fraction.npz', x_train=x, y_train=np.array([0, 1, 0.5, 1]))
            np.savez('names.npz', images=x, labels=y)
            np.savez_compressed('whole.npz', x_train=np.random.rand(200, 50).astype(np.float32), y_train=np.arange(200) % 3)
            data = open('whole.npz', 'rb').read()
            open('truncated.npz', 'wb').write(data[:len(data) // 2])
            damaged = bytearray(data); damaged[len(data) // 3] ^= 0xFF; open('damaged.npz', 'wb').write(bytes(damaged))
            """)
        func detail(_ name: String) -> (DatasetError.Kind?, String) {
            let error = self.error(folder + "/" + name)
            return (error?.kind, error?.detail ?? "")
        }
        XCTAssertEqual(detail("mismatch.npz").0, .countMismatch)
        XCTAssertEqual(detail("mismatch.npz").1, "3 labels for 4 x_train samples; features and labels must come from the same set")
        XCTAssertEqual(detail("nan.npz").0, .nonFinite)
        XCTAssertEqual(detail("nan.npz").1, "x_train sample 1, feature 0 is nan: replace missing or infinite values before training")
        XCTAssertEqual(detail("fraction.npz").1, "y_train sample 2 has label 0.5, not a class number: labels must be whole numbers from 0 to 255")
        XCTAssertEqual(detail("names.npz").0, .missingArray)
        XCTAssertTrue(detail("names.npz").1.hasPrefix("holds images, labels but not x_train and y_train; save with numpy.savez"), detail("names.npz").1)
        XCTAssertEqual(detail("truncated.npz").0, .corruptArchive)
        XCTAssertEqual(detail("damaged.npz").0, .corruptArchive)
        XCTAssertTrue(detail("damaged.npz").1.hasSuffix("it is truncated or damaged; write it again"), detail("damaged.npz").1)
    }

    // MARK: IDX and safetensors

    func testEMNISTNamedIDXFilesAndOneSetOfSeveral() throws {
        func idx(_ dimensions: [Int], _ data: [UInt8]) -> Data {
            var bytes: [UInt8] = [0, 0, 8, UInt8(dimensions.count)]
            for d in dimensions { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
            return Data(bytes + data)
        }
        for set in ["emnist-letters", "emnist-digits"] {
            try idx([3, 4, 5], [UInt8](repeating: 9, count: 60)).write(to: URL(fileURLWithPath: "\(folder!)/\(set)-train-images-idx3-ubyte"))
            try idx([3], [1, 26, 2]).write(to: URL(fileURLWithPath: "\(folder!)/\(set)-train-labels-idx1-ubyte"))
        }
        let error = self.error(folder)
        XCTAssertEqual(error?.detail, "holds 2 sets of IDX files; pass --data with one of \(folder!)/emnist-digits, \(folder!)/emnist-letters")
        let letters = try DataFile.load(path: folder + "/emnist-letters")
        XCTAssertEqual(letters.sampleShape, [4, 5])
        XCTAssertEqual(letters.train.classCount, 27)
        XCTAssertNil(letters.test)
    }

    func testSafetensorsOfImagesAndLabels() throws {
        try python("""
            from safetensors.numpy import save_file
            save_file({'images': np.arange(12, dtype=np.float32).reshape(3, 4), 'labels': np.array([0, 2, 1], dtype=np.int64)}, 'set.safetensors')
            save_file({'images': np.zeros((3, 4), dtype=np.uint8), 'labels': np.array([0, 1], dtype=np.int64)}, 'short.safetensors')
            """)
        let set = try DataFile.load(path: folder + "/set.safetensors")
        XCTAssertEqual(set.train.values, (0..<12).map(Float.init))
        XCTAssertEqual(set.train.labels, [0, 2, 1])
        XCTAssertEqual(error(folder + "/short.safetensors")?.detail,
                       "2 labels for 3 images samples; features and labels must come from the same set")
    }

    // MARK: Splits and normalisation

    func testSeededSplitsAndNormalisation() throws {
        let set = LabeledImages(values: (0..<20).map(Float.init), labels: (0..<10).map { UInt8($0 % 2) }, featureCount: 2, classCount: 2)
        let (kept, held) = try HeldOut.fraction(0.2).split(set, seed: 1, stream: HeldOut.testStream, flag: "--test-fraction")
        XCTAssertEqual(held.count, 2)
        XCTAssertEqual(kept.count, 8)
        XCTAssertEqual(Set(kept.values + held.values).count, 20, "every sample on one side")
        let again = try HeldOut.fraction(0.2).split(set, seed: 1, stream: HeldOut.testStream, flag: "--test-fraction")
        XCTAssertEqual(again.held, held)
        XCTAssertThrowsError(try HeldOut.count(10).split(set, seed: 1, stream: 0, flag: "--validation"))

        let standard = Normalization.fit(.standardize, to: set).apply(to: set)
        let firstFeature = stride(from: 0, to: 20, by: 2).map { standard.values[$0] }
        XCTAssertEqual(firstFeature.reduce(0, +) / 10, 0, accuracy: 1e-6)
        XCTAssertEqual((firstFeature.map { $0 * $0 }.reduce(0, +) / 10).squareRoot(), 1, accuracy: 1e-5)

        // Bytes whose largest value is 255 keep MNIST's 1 / 255; load_digits' 0-16 are scaled by 1 / 16.
        let pixels = LabeledImages(pixels: [0, 255, 3, 7], labels: [0, 1], featureCount: 2, classCount: 2)
        XCTAssertEqual(Normalization.fit(.scale, to: pixels), .pixelScale)
        XCTAssertEqual(Normalization.fit(.scale, to: pixels).apply(to: pixels), pixels)
        let digits = LabeledImages(pixels: [0, 16, 3, 7], labels: [0, 1], featureCount: 2, classCount: 2)
        XCTAssertEqual(Normalization.fit(.scale, to: digits).apply(to: digits).byteScale, 1 / 16)
    }
}
