import Foundation

/// A data set as a file or folder holds it: the training samples, the test samples when the
/// file has them, and the shape of one sample. Every format's reader ends here.
public struct DataFile: Sendable {
    public var train: LabeledImages
    public var test: LabeledImages?
    /// One sample's shape: [28, 28] for MNIST, [30] for a table of 30 columns.
    public let sampleShape: [Int]
    /// The format read, for the log: "IDX", "NumPy .npz", "CSV", ...
    public let format: String
    /// Where the training samples should have been, when the data holds test samples alone
    /// (in `train`): enough to evaluate a model, not to train one.
    public var missingTraining: DatasetError?

    public init(train: LabeledImages, test: LabeledImages?, sampleShape: [Int], format: String) {
        self.train = train
        self.test = test
        self.sampleShape = sampleShape
        self.format = format
    }

    /// The class count comes from the training labels (at least two); the test set must share
    /// the training set's sample size and classes.
    static func pair(train: (features: LabeledFeatures, labels: [UInt8], path: String, what: String),
                     test: (features: LabeledFeatures, labels: [UInt8], path: String, what: String)?,
                     sampleShape: [Int], format: String) throws -> DataFile {
        let classCount = try LabelValues.classCount(train.labels, path: train.path)
        let trainSet = try train.features.labeled(train.labels, classCount: classCount, path: train.path, what: train.what)
        var testSet: LabeledImages?
        if let test {
            guard test.features.featureCount == train.features.featureCount else {
                throw DatasetError(.shapeMismatch, path: test.path,
                                   "\(test.what) samples have \(test.features.featureCount) features but \(train.what) samples have \(train.features.featureCount); both must come from the same set")
            }
            try LabelValues.check(test.labels, within: classCount, path: test.path, trainingPath: train.path)
            testSet = try test.features.labeled(test.labels, classCount: classCount, path: test.path, what: test.what)
        }
        return DataFile(train: trainSet, test: testSet, sampleShape: sampleShape, format: format)
    }

    /// Reads `path` by what it is: a folder of IDX or .npy files, an .npz, a .csv, a .safetensors.
    /// `labelColumn` picks a CSV's label column by header name or index (default: the first).
    public static func load(path: String, labelColumn: String? = nil) throws -> DataFile {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue {
            if NumpyFolder.holdsArrays(path) { return try NumpyFolder.load(directory: path) }
            return try IDXFolder.load(path)
        }
        let lowered = path.lowercased()
        if lowered.hasSuffix(".npz") { return try NumpyArchive.load(path: path) }
        if lowered.hasSuffix(".csv") { return try CSVTable.load(path: path, labelColumn: labelColumn) }
        if lowered.hasSuffix(".safetensors") { return try SafetensorsData.load(path: path) }
        guard exists else {
            // An EMNIST folder holds several sets: DIR/emnist-balanced names one of them.
            if IDXFolder.isPrefix(path) { return try IDXFolder.load(path) }
            throw DatasetError((path as NSString).pathExtension.isEmpty ? .missingDirectory : .missingFile, path: path,
                               "no such data directory or file; pass --data with an IDX or .npy folder, an .npz, a .csv or a .safetensors file")
        }
        if path.contains("-ubyte") {
            throw DatasetError(.notADirectory, path: path,
                               "that is a file, not a folder; pass --data with the folder that holds the four MNIST IDX files")
        }
        throw DatasetError(.unknownFormat, path: path,
                           "not a format dptrain reads: pass a folder of IDX or .npy files, an .npz, a .csv or a .safetensors file (named by its extension)")
    }

    /// The whole file as one set, for `evaluate`: its test split when it has one, else every sample.
    public var evaluationSet: LabeledImages { test ?? train }
}

/// Reads a whole file; missing and unreadable files say so.
func readWhole(_ path: String) throws -> Data {
    guard let data = FileManager.default.contents(atPath: path) else {
        let exists = FileManager.default.fileExists(atPath: path)
        throw DatasetError(exists ? .unreadable : .missingFile, path: path,
                           exists ? "cannot be read; check its permissions" : "no such file")
    }
    guard !data.isEmpty else { throw DatasetError(.emptyFile, path: path, "the file is empty; write the data again") }
    return data
}

extension DataFile {
    /// `test` as this file's test split: the same features, labels within the training classes.
    public func checkedTestSet(_ test: LabeledImages, path: String) throws -> LabeledImages {
        guard test.featureCount == train.featureCount else {
            throw DatasetError(.shapeMismatch, path: path,
                               "test samples have \(test.featureCount) features but the training samples have \(train.featureCount); both must come from the same set")
        }
        try LabelValues.check(test.labels, within: train.classCount, path: path, trainingPath: "the training data")
        return test.withClassCount(train.classCount)
    }
}
