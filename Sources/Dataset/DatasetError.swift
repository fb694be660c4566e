/// Why a data set could not be read, in a sentence that names the file (and the row or
/// tensor) and says what to do.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        case missingDirectory, notADirectory, missingFile, unreadable, corruptGzip, truncated, badMagic,
             badDimensions, sizeMismatch, countMismatch, labelOutOfRange, shapeMismatch
        /// No format dptrain reads: not an IDX or NumPy folder, .npz, .npy, .csv or .safetensors.
        case unknownFormat
        /// A file with no samples in it.
        case emptyFile
        /// A CSV row with another number of cells than the first.
        case raggedRow
        /// A CSV cell that is not a number.
        case notNumeric
        /// NaN or infinity among the features.
        case nonFinite
        /// A label with a fraction, or negative.
        case labelNotInteger
        /// Labels of only one class: nothing to learn.
        case oneClass
        /// A zip member (.npz) whose bytes do not match their checksum, or a zip that is not whole.
        case corruptArchive
        /// An array or tensor that is absent, or of a type or shape dptrain does not take.
        case missingArray, unsupportedType
        /// A header column (--label-column) that is not there.
        case missingColumn
        /// Features of a size the model does not take.
        case featureMismatch
        /// No test split in the data and none asked for (--test-fraction), or one asked for beside the data's own.
        case noTestSplit, testSplitTwice
        /// A held-out split that leaves one side empty.
        case splitTooLarge
    }

    public let kind: Kind
    public let path: String
    public let detail: String

    public init(_ kind: Kind, path: String, _ detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(detail)" }
}
