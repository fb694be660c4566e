/// Why a data set could not be read, in a sentence that says what to do.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        case missingDirectory, notADirectory, missingFile, unreadable, corruptGzip, truncated, badMagic,
             badDimensions, sizeMismatch, countMismatch, labelOutOfRange, shapeMismatch
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
