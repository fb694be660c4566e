import Foundation

/// An n-dimensional array as NumPy and safetensors files hold it: a shape, an element type
/// and little-endian bytes, row-major. Turned into features or labels with every check.
struct NumericArray {
    enum Element: Equatable {
        case uint8, int8, uint16, int16, uint32, int32, uint64, int64, float16, float32, float64, bool

        var width: Int {
            switch self {
            case .uint8, .int8, .bool: 1
            case .uint16, .int16, .float16: 2
            case .uint32, .int32, .float32: 4
            case .uint64, .int64, .float64: 8
            }
        }
    }

    let shape: [Int]
    let element: Element
    /// `shape`'s product times the element width.
    let bytes: Data
    /// Where the array came from, for errors: "x_train in digits.npz".
    let name: String
    let path: String

    /// Checks the byte count against the shape; `truncated` when short.
    init(shape: [Int], element: Element, bytes: Data, name: String, path: String) throws {
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard shape.allSatisfy({ $0 >= 0 }), count != Int.max, count.multipliedReportingOverflow(by: element.width).overflow == false
        else { throw DatasetError(.badDimensions, path: path, "\(name) has shape \(shape), too large to be real") }
        guard bytes.count == count * element.width else {
            throw DatasetError(bytes.count < count * element.width ? .truncated : .sizeMismatch, path: path,
                               "\(name) of shape \(shape) needs \(count * element.width) bytes but the file holds \(bytes.count): it is truncated or damaged; write it again")
        }
        self.shape = shape
        self.element = element
        self.bytes = bytes
        self.name = name
        self.path = path
    }

    var count: Int { shape.reduce(1, *) }

    /// The value at `index` as a Double, whatever the element type.
    @inline(__always)
    func value(_ raw: UnsafeRawBufferPointer, _ index: Int) -> Double {
        let at = index * element.width
        switch element {
        case .uint8, .bool: return Double(raw[at])
        case .int8: return Double(Int8(bitPattern: raw[at]))
        case .uint16: return Double(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
        case .int16: return Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int16.self)))
        case .uint32: return Double(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        case .int32: return Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
        case .uint64: return Double(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
        case .int64: return Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self)))
        case .float16: return Double(Self.halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self))))
        case .float32: return Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
        case .float64: return Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
        }
    }

    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10 & 0x1F), mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 { return (sign != 0 ? -1 : 1) * Float(mantissa) * 0x1p-24 }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | mantissa << 13)
    }

    /// Features, one sample per first index: uint8 arrays stay bytes, every other type becomes
    /// floats (NaN and infinity refused). Returns the sample shape beside.
    func features() throws -> (features: LabeledFeatures, sampleShape: [Int]) {
        guard shape.count >= 2, shape[0] > 0, shape.dropFirst().allSatisfy({ $0 > 0 }) else {
            throw DatasetError(shape.first == 0 ? .emptyFile : .badDimensions, path: path,
                               shape.first == 0 ? "\(name) holds no samples; write the array with data in it"
                               : "\(name) has shape \(shape): features need a sample dimension and at least one feature, as (samples, features) or (samples, height, width)")
        }
        let featureCount = shape.dropFirst().reduce(1, *)
        if element == .uint8 {
            return (.bytes([UInt8](bytes), featureCount: featureCount), Array(shape.dropFirst()))
        }
        guard element != .bool else {
            throw DatasetError(.unsupportedType, path: path, "\(name) holds booleans; save the features as uint8 or float32")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            if element == .float32 {
                values.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
            } else {
                for i in 0..<values.count { values[i] = Float(value(raw, i)) }
            }
        }
        try FeatureValues.checkFinite(values, featureCount: featureCount, path: path, what: name)
        return (.floats(values, featureCount: featureCount), Array(shape.dropFirst()))
    }

    /// Labels: one whole number per sample, from 0 to 255; a (n, 1) column is taken too.
    func labels() throws -> [UInt8] {
        guard shape.count == 1 || (shape.count == 2 && shape[1] == 1) else {
            throw DatasetError(.badDimensions, path: path,
                               "\(name) has shape \(shape): labels must be one class number per sample (n,), not one-hot or several columns")
        }
        var labels = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeBytes { raw in
            if element == .uint8 {
                labels.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
                return
            }
            for i in 0..<labels.count {
                labels[i] = try LabelValues.label(value(raw, i), path: path, place: "\(name) sample \(i)")
            }
        }
        return labels
    }
}

/// Features as read, before the training and test sets are paired with labels.
enum LabeledFeatures {
    case bytes([UInt8], featureCount: Int)
    case floats([Float], featureCount: Int)

    var featureCount: Int {
        switch self {
        case .bytes(_, let count), .floats(_, let count): count
        }
    }

    var sampleCount: Int {
        switch self {
        case .bytes(let bytes, let count): bytes.count / count
        case .floats(let values, let count): values.count / count
        }
    }

    /// The samples with `labels`, checked to be as many; `classCount` from the training set.
    func labeled(_ labels: [UInt8], classCount: Int, path: String, what: String) throws -> LabeledImages {
        guard labels.count == sampleCount else {
            throw DatasetError(.countMismatch, path: path,
                               "\(labels.count) labels for \(sampleCount) \(what) samples; features and labels must come from the same set")
        }
        switch self {
        case .bytes(let bytes, let count):
            return LabeledImages(pixels: bytes, labels: labels, featureCount: count, classCount: classCount)
        case .floats(let values, let count):
            return LabeledImages(values: values, labels: labels, featureCount: count, classCount: classCount)
        }
    }
}
