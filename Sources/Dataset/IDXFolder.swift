import Foundation

/// A folder of IDX files named as MNIST, Fashion-MNIST, KMNIST or EMNIST name them:
/// `train-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte`, `emnist-balanced-test-images-idx3-ubyte.gz`.
/// Images of any size, labels of 2 to 256 classes; the test files are optional. A folder
/// that holds several sets (EMNIST's splits) is read as `FOLDER/emnist-balanced`.
enum IDXFolder {
    struct Files {
        var trainImages: String
        var trainLabels: String
        var testImages: String?
        var testLabels: String?
        /// Test files alone, read into the training slot for `evaluate`.
        var testOnly = false
    }

    /// IDX files of `directory` by role, keyed by their set's prefix ("" for MNIST, "emnist-balanced-").
    static func sets(in directory: String) -> [String: [String: String]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var sets: [String: [String: String]] = [:]
        for name in names.sorted() {
            let stem = name.hasSuffix(".gz") ? String(name.dropLast(3)) : name
            let kind: String
            if stem.hasSuffix("images-idx3-ubyte") { kind = "images" } else if stem.hasSuffix("labels-idx1-ubyte") { kind = "labels" } else { continue }
            let head = stem.dropLast(kind == "images" ? "images-idx3-ubyte".count : "labels-idx1-ubyte".count)
            for split in ["train-", "t10k-", "test-"] where head.hasSuffix(split) {
                let prefix = String(head.dropLast(split.count))
                let role = (split == "train-" ? "train" : "test") + "-" + kind
                // A gzipped and a raw copy of one file: the gzipped one, as MNIST's loader always took.
                if sets[prefix]?[role]?.hasSuffix(".gz") != true {
                    sets[prefix, default: [:]][role] = (directory as NSString).appendingPathComponent(name)
                }
            }
        }
        return sets
    }

    /// True when `path` is FOLDER/PREFIX naming one set of a folder's IDX files.
    static func isPrefix(_ path: String) -> Bool {
        let folder = (path as NSString).deletingLastPathComponent
        let prefix = (path as NSString).lastPathComponent + "-"
        return sets(in: folder.isEmpty ? "." : folder)[prefix] != nil
    }

    static func files(_ path: String) throws -> Files {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let folder = exists ? path : (path as NSString).deletingLastPathComponent
        let all = sets(in: folder)
        let chosen: [String: String]
        if exists {
            guard !all.isEmpty else {
                throw DatasetError(.missingFile, path: (path as NSString).appendingPathComponent(MNIST.fileStems.trainImages + ".gz"),
                                   "no such file (nor \(MNIST.fileStems.trainImages) uncompressed); the data directory must hold the four MNIST IDX files, or x_train.npy and y_train.npy")
            }
            guard all.count == 1, let only = all.first?.value else {
                let names = all.keys.sorted().map { (path as NSString).appendingPathComponent(String($0.dropLast())) }
                throw DatasetError(.shapeMismatch, path: path,
                                   "holds \(all.count) sets of IDX files; pass --data with one of \(names.joined(separator: ", "))")
            }
            chosen = only
        } else {
            chosen = all[(path as NSString).lastPathComponent + "-"] ?? [:]
        }
        let base = exists ? (path as NSString).appendingPathComponent("") : path + "-"
        if chosen["train-images"] == nil, chosen["train-labels"] == nil, let images = chosen["test-images"], let labels = chosen["test-labels"] {
            return Files(trainImages: images, trainLabels: labels, testImages: nil, testLabels: nil, testOnly: true)
        }
        guard let trainImages = chosen["train-images"] else {
            throw DatasetError(.missingFile, path: base + "train-images-idx3-ubyte.gz", "no such file; the training images are needed beside the labels")
        }
        guard let trainLabels = chosen["train-labels"] else {
            throw DatasetError(.missingFile, path: base + "train-labels-idx1-ubyte.gz", "no such file; the training labels are needed beside the images")
        }
        let testImages = chosen["test-images"], testLabels = chosen["test-labels"]
        if (testImages == nil) != (testLabels == nil) {
            let missing = testImages.map { $0.replacingOccurrences(of: "images-idx3", with: "labels-idx1") }
                ?? testLabels!.replacingOccurrences(of: "labels-idx1", with: "images-idx3")
            throw DatasetError(.missingFile, path: missing,
                               "no such file, though its partner \((testImages ?? testLabels!) as NSString).lastPathComponent) is there; add it, or remove both and use --test-fraction")
        }
        return Files(trainImages: trainImages, trainLabels: trainLabels, testImages: testImages, testLabels: testLabels)
    }

    static func load(_ path: String) throws -> DataFile {
        let files = try files(path)
        let trainImages = try IDXFile(path: files.trainImages, expectedDimensionCount: 3)
        let trainLabels = try IDXFile(path: files.trainLabels, expectedDimensionCount: 1)
        var test: (features: LabeledFeatures, labels: [UInt8], path: String, what: String)?
        if let testImagesPath = files.testImages, let testLabelsPath = files.testLabels {
            let testImages = try IDXFile(path: testImagesPath, expectedDimensionCount: 3)
            let testLabels = try IDXFile(path: testLabelsPath, expectedDimensionCount: 1)
            guard testImages.dimensions[1...] == trainImages.dimensions[1...] else {
                throw DatasetError(.shapeMismatch, path: path,
                                   "training images are \(trainImages.dimensions[1])x\(trainImages.dimensions[2]) but test images are \(testImages.dimensions[1])x\(testImages.dimensions[2])")
            }
            test = (try images(testImages, path: testImagesPath, labels: testLabels), testLabels.bytes, testLabelsPath, "test")
        }
        var file = try DataFile.pair(train: (try images(trainImages, path: files.trainImages, labels: trainLabels), trainLabels.bytes, files.trainLabels, "training"),
                                     test: test, sampleShape: Array(trainImages.dimensions[1...]), format: "IDX")
        if files.testOnly {
            let stem = (files.trainImages as NSString).lastPathComponent.replacingOccurrences(of: "t10k-", with: "train-").replacingOccurrences(of: "test-", with: "train-")
            let missing = ((files.trainImages as NSString).deletingLastPathComponent as NSString).appendingPathComponent(stem)
            file.missingTraining = DatasetError(.missingFile, path: missing,
                                                "no such file (nor \(stem.replacingOccurrences(of: ".gz", with: "")) uncompressed); the data directory holds test files alone: add the training files to train")
        }
        return file
    }

    static func images(_ images: IDXFile, path: String, labels: IDXFile) throws -> LabeledFeatures {
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DatasetError(.countMismatch, path: path,
                               "\(labels.dimensions[0]) labels for \(images.dimensions[0]) images; the two files must come from the same set")
        }
        return .bytes(images.bytes, featureCount: images.dimensions[1] * images.dimensions[2])
    }
}
