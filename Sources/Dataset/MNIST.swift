import Foundation

/// A training and a test set read from a folder of IDX files with both splits, as MNIST
/// ships: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
/// t10k-labels-idx1-ubyte, each gzipped (.gz) or raw.
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
        let file = try IDXFolder.load(directory)
        guard let test = file.test else {
            throw DatasetError(.missingFile, path: (directory as NSString).appendingPathComponent(MNIST.fileStems.testImages + ".gz"),
                               "no such file (nor \(MNIST.fileStems.testImages) uncompressed); the data directory must hold the four MNIST IDX files")
        }
        train = file.train
        self.test = test
        rows = file.sampleShape[0]
        columns = file.sampleShape[1]
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
}
