import Foundation

/// A training and a test set read from a directory laid out as MNIST is:
/// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
/// t10k-labels-idx1-ubyte, each gzipped (.gz) or raw. Fashion-MNIST and its
/// kin ship the same names.
public struct MNIST: Sendable {
    public let train: LabeledImages
    public let test: LabeledImages
    /// Image height and width.
    public let rows: Int
    public let columns: Int

    public static let fileStems = (trainImages: "train-images-idx3-ubyte", trainLabels: "train-labels-idx1-ubyte",
                                   testImages: "t10k-images-idx3-ubyte", testLabels: "t10k-labels-idx1-ubyte")

    public init(directory: String) throws {
        try MNIST.checkDirectory(directory)
        let stems = MNIST.fileStems
        let trainImages = try IDXFile(path: MNIST.locate(stems.trainImages, in: directory), expectedDimensionCount: 3)
        let trainLabels = try IDXFile(path: MNIST.locate(stems.trainLabels, in: directory), expectedDimensionCount: 1)
        let testImages = try IDXFile(path: MNIST.locate(stems.testImages, in: directory), expectedDimensionCount: 3)
        let testLabels = try IDXFile(path: MNIST.locate(stems.testLabels, in: directory), expectedDimensionCount: 1)

        rows = trainImages.dimensions[1]
        columns = trainImages.dimensions[2]
        guard testImages.dimensions[1] == rows, testImages.dimensions[2] == columns else {
            throw DatasetError(.shapeMismatch, path: directory,
                               "training images are \(rows)x\(columns) but test images are \(testImages.dimensions[1])x\(testImages.dimensions[2])")
        }
        // The class count is what the training labels use; test labels must fall within it.
        let classCount = Int(trainLabels.bytes.max() ?? 0) + 1
        train = try MNIST.pair(trainImages, trainLabels, classCount: classCount, directory: directory, stem: stems.trainLabels)
        test = try MNIST.pair(testImages, testLabels, classCount: classCount, directory: directory, stem: stems.testLabels)
    }

    /// The test set alone, for evaluating a model: the training files need not be there.
    /// Its class count is what its own labels use.
    public static func testSet(directory: String) throws -> LabeledImages {
        try checkDirectory(directory)
        let images = try IDXFile(path: locate(fileStems.testImages, in: directory), expectedDimensionCount: 3)
        let labels = try IDXFile(path: locate(fileStems.testLabels, in: directory), expectedDimensionCount: 1)
        return try pair(images, labels, classCount: Int(labels.bytes.max() ?? 0) + 1, directory: directory, stem: fileStems.testLabels)
    }

    static func checkDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw DatasetError(.missingDirectory, path: directory,
                               "no such data directory; pass --data with a folder that holds the four MNIST IDX files")
        }
        guard isDirectory.boolValue else {
            throw DatasetError(.notADirectory, path: directory,
                               "that is a file, not a folder; pass --data with the folder that holds the four MNIST IDX files")
        }
    }

    /// The file for `stem` in `directory`: the .gz if there is one, else the raw file.
    static func locate(_ stem: String, in directory: String) throws -> String {
        let base = (directory as NSString).appendingPathComponent(stem)
        for candidate in [base + ".gz", base] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw DatasetError(.missingFile, path: base + ".gz",
                           "no such file (nor \(stem) uncompressed); the data directory must hold the four MNIST IDX files")
    }

    static func pair(_ images: IDXFile, _ labels: IDXFile, classCount: Int, directory: String, stem: String) throws -> LabeledImages {
        let path = (directory as NSString).appendingPathComponent(stem)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DatasetError(.countMismatch, path: path,
                               "\(labels.dimensions[0]) labels for \(images.dimensions[0]) images; the two files must come from the same set")
        }
        if let bad = labels.bytes.firstIndex(where: { Int($0) >= classCount }) {
            throw DatasetError(.labelOutOfRange, path: path,
                               "label \(labels.bytes[bad]) at sample \(bad) is outside the \(classCount) classes of the training labels")
        }
        return LabeledImages(pixels: images.bytes, labels: labels.bytes,
                             featureCount: images.dimensions[1] * images.dimensions[2], classCount: classCount)
    }
}
