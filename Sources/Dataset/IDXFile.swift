import Foundation

/// An IDX file of unsigned bytes (the format of MNIST): a big-endian header
/// 0x00 0x00 0x08 NDIMS, NDIMS dimension sizes as UInt32, then the data.
public struct IDXFile: Equatable {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    /// Reads `path`, gzipped or raw, and checks the magic number, the dimensions
    /// and the file size against each other.
    public init(path: String, expectedDimensionCount: Int) throws {
        let raw: [UInt8]
        do {
            raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw DatasetError(exists ? .unreadable : .missingFile, path: path,
                               exists ? "cannot be read; check its permissions" : "no such file")
        }
        guard isGzip(raw) else {
            try self.init(contents: raw, path: path, expectedDimensionCount: expectedDimensionCount)
            return
        }
        // The header, inflated first, bounds the rest: a damaged file cannot ask for more memory than a good one.
        let headerSize = IDXFile.headerSize(dimensionCount: expectedDimensionCount)
        let contents = try gunzip(raw, path: path, prefixLength: headerSize) { header in
            let dimensions = try IDXFile.dimensions(header: header, path: path, expectedDimensionCount: expectedDimensionCount)
            return headerSize + dimensions.reduce(1, *)
        }
        try self.init(contents: contents, path: path, expectedDimensionCount: expectedDimensionCount)
    }

    public init(contents: [UInt8], path: String, expectedDimensionCount: Int) throws {
        let dimensions = try IDXFile.dimensions(header: contents, path: path, expectedDimensionCount: expectedDimensionCount)
        let headerSize = IDXFile.headerSize(dimensionCount: expectedDimensionCount)
        let expected = dimensions.reduce(1, *)
        let actual = contents.count - headerSize
        guard actual == expected else {
            let shape = dimensions.map(String.init).joined(separator: "x")
            throw DatasetError(actual < expected ? .truncated : .sizeMismatch, path: path,
                               "the header promises \(shape) = \(expected) bytes of data but the file holds \(actual)\(actual < expected ? ": it is truncated" : "")")
        }
        self.dimensions = dimensions
        self.bytes = Array(contents[headerSize...])
    }

    static func headerSize(dimensionCount: Int) -> Int { 4 + 4 * dimensionCount }

    /// The dimensions that `header`, the start of an IDX file, gives; throws unless it is
    /// a whole header of unsigned bytes with `expectedDimensionCount` plausible dimensions.
    static func dimensions(header contents: [UInt8], path: String, expectedDimensionCount: Int) throws -> [Int] {
        guard contents.count >= 4 else {
            throw DatasetError(.truncated, path: path, "only \(contents.count) bytes: too short for an IDX header")
        }
        guard contents[0] == 0, contents[1] == 0, contents[2] == 0x08, Int(contents[3]) == expectedDimensionCount else {
            let magic = contents[0..<4].map { String(format: "%02x", $0) }.joined()
            throw DatasetError(.badMagic, path: path,
                               "magic number 0x\(magic) is not an IDX file of unsigned bytes with \(expectedDimensionCount) dimensions (0x000008\(String(format: "%02x", expectedDimensionCount)))")
        }
        guard contents.count >= headerSize(dimensionCount: expectedDimensionCount) else {
            throw DatasetError(.truncated, path: path, "the header is cut short at \(contents.count) bytes")
        }
        var dimensions: [Int] = []
        var expected = 1
        for d in 0..<expectedDimensionCount {
            let at = 4 + 4 * d
            let size = Int(contents[at]) << 24 | Int(contents[at + 1]) << 16 | Int(contents[at + 2]) << 8 | Int(contents[at + 3])
            guard size > 0 else { throw DatasetError(.badDimensions, path: path, "dimension \(d) is zero") }
            dimensions.append(size)
            let (product, overflow) = expected.multipliedReportingOverflow(by: size)
            guard !overflow, product <= 1 << 34 else {
                throw DatasetError(.badDimensions, path: path, "dimensions \(dimensions) are too large to be real")
            }
            expected = product
        }
        return dimensions
    }
}
