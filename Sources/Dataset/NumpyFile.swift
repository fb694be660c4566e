import Foundation

/// NumPy's .npy format: the magic "\x93NUMPY", a version, a header length, a Python dict
/// literal ({'descr': '<f4', 'fortran_order': False, 'shape': (1797, 64), }) and the data.
enum NumpyFile {
    static func array(_ bytes: Data, name: String, path: String) throws -> NumericArray {
        func bad(_ why: String) -> DatasetError {
            DatasetError(.badMagic, path: path, "\(name) is not a NumPy array (\(why)); save it with numpy.save or numpy.savez")
        }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        let start = bytes.startIndex
        guard bytes.count >= 10, Array(bytes[start..<start + 6]) == magic else { throw bad("no \\x93NUMPY magic") }
        let major = bytes[start + 6]
        let lengthBytes = major == 1 ? 2 : 4
        guard (1...3).contains(major), bytes.count >= 8 + lengthBytes else { throw bad("version \(major)") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(bytes[start + 8 + i]) << (8 * i) }
        let dataStart = start + 8 + lengthBytes + headerLength
        guard dataStart <= bytes.endIndex,
              let header = String(data: bytes[(start + 8 + lengthBytes)..<dataStart], encoding: major == 3 ? .utf8 : .isoLatin1)
        else { throw DatasetError(.truncated, path: path, "\(name)'s header is cut short: the file is truncated; write it again") }

        guard let descr = field("descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) else { throw bad("no descr") }
        if field("fortran_order", in: header) == "True" {
            throw DatasetError(.unsupportedType, path: path, "\(name) is in Fortran order; save numpy.ascontiguousarray(array) instead")
        }
        guard let shapeText = field("shape", in: header) else { throw bad("no shape") }
        let shape = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.compactMap { Int($0) }
        guard let element = element(descr) else {
            throw DatasetError(.unsupportedType, path: path,
                               "\(name) holds \(descr); dptrain takes uint8 or float32 features (or other plain numbers) and integer labels, little-endian")
        }
        return try NumericArray(shape: shape, element: element, bytes: bytes[dataStart...], name: name, path: path)
    }

    /// The value of `key` in the header's dict: a quoted string, a word, or a parenthesised tuple.
    static func field(_ key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\""),
              let colon = header[keyRange.upperBound...].firstIndex(of: ":") else { return nil }
        let rest = header[header.index(after: colon)...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces)
    }

    static func element(_ descr: String) -> NumericArray.Element? {
        // '|' is "not applicable" (one byte), '<' little-endian, '=' native (little on every target here).
        guard let order = descr.first, "<|=".contains(order) else { return nil }
        switch descr.dropFirst() {
        case "u1": return .uint8
        case "i1": return .int8
        case "b1": return .bool
        case "u2": return .uint16
        case "i2": return .int16
        case "u4": return .uint32
        case "i4": return .int32
        case "u8": return .uint64
        case "i8": return .int64
        case "f2": return .float16
        case "f4": return .float32
        case "f8": return .float64
        default: return nil
        }
    }
}

/// A NumPy .npz (what numpy.savez and keras.datasets write): x_train, y_train and, when the
/// file has a test split, x_test and y_test.
enum NumpyArchive {
    static func load(path: String) throws -> DataFile {
        let archive = try ZipArchive(path: path)
        func array(_ name: String) throws -> NumericArray? {
            guard let bytes = try archive.member(name + ".npy") else { return nil }
            return try NumpyFile.array(bytes, name: name, path: path)
        }
        guard let xTrain = try array("x_train"), let yTrain = try array("y_train") else {
            throw DatasetError(.missingArray, path: path,
                               "holds \(archive.names.joined(separator: ", ")) but not x_train and y_train; save with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)")
        }
        let xTest = try array("x_test"), yTest = try array("y_test")
        return try NumpyFolder.pair(xTrain, yTrain, xTest, yTest, path: path, format: "NumPy .npz")
    }
}

/// A folder of .npy files: x_train.npy and y_train.npy, and optionally x_test.npy and y_test.npy.
enum NumpyFolder {
    static func holdsArrays(_ directory: String) -> Bool {
        FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("x_train.npy"))
    }

    static func load(directory: String) throws -> DataFile {
        func array(_ name: String) throws -> NumericArray? {
            let path = (directory as NSString).appendingPathComponent(name + ".npy")
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            return try NumpyFile.array(try readWhole(path), name: name, path: path)
        }
        guard let xTrain = try array("x_train"), let yTrain = try array("y_train") else {
            throw DatasetError(.missingFile, path: (directory as NSString).appendingPathComponent("y_train.npy"),
                               "no such file; a folder of .npy files needs x_train.npy and y_train.npy (and optionally x_test.npy, y_test.npy)")
        }
        return try pair(xTrain, yTrain, try array("x_test"), try array("y_test"),
                        path: directory, format: "NumPy .npy")
    }

    static func pair(_ xTrain: NumericArray, _ yTrain: NumericArray, _ xTest: NumericArray?, _ yTest: NumericArray?,
                     path: String, format: String) throws -> DataFile {
        if (xTest == nil) != (yTest == nil) {
            throw DatasetError(.missingArray, path: path,
                               "has \(xTest == nil ? "y_test but no x_test" : "x_test but no y_test"); give both or neither (then use --test-fraction)")
        }
        let train = try xTrain.features()
        var test: (features: LabeledFeatures, labels: [UInt8], path: String, what: String)?
        if let xTest, let yTest {
            test = (try xTest.features().features, try yTest.labels(), path, "x_test")
        }
        return try DataFile.pair(train: (train.features, try yTrain.labels(), path, "x_train"), test: test,
                                 sampleShape: train.sampleShape, format: format)
    }
}
