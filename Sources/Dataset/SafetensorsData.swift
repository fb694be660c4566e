import Foundation

/// A safetensors file of samples, as a PyTorch user writes it in one line
/// (`save_file({"images": x, "labels": y}, path)`): `images` (samples, ...) of U8 or floats,
/// `labels` (samples) of integers, and optionally `test_images` and `test_labels`.
enum SafetensorsData {
    static func load(path: String) throws -> DataFile {
        let tensors = try tensors(path: path)
        guard let images = tensors["images"], let labels = tensors["labels"] else {
            throw DatasetError(.missingArray, path: path,
                               "holds tensors \(tensors.keys.sorted().joined(separator: ", ")) but not images and labels; save_file({\"images\": x, \"labels\": y}, path)")
        }
        let testImages = tensors["test_images"], testLabels = tensors["test_labels"]
        if (testImages == nil) != (testLabels == nil) {
            throw DatasetError(.missingArray, path: path, "has one of test_images and test_labels; give both or neither (then use --test-fraction)")
        }
        let train = try images.features()
        var test: (features: LabeledFeatures, labels: [UInt8], path: String, what: String)?
        if let testImages, let testLabels { test = (try testImages.features().features, try testLabels.labels(), path, "test_images") }
        return try DataFile.pair(train: (train.features, try labels.labels(), path, "images"), test: test,
                                 sampleShape: train.sampleShape, format: "safetensors")
    }

    /// Every tensor of the file, by name, checked against the file's length.
    static func tensors(path: String) throws -> [String: NumericArray] {
        let data = try readWhole(path)
        func bad(_ why: String) -> DatasetError {
            DatasetError(.badMagic, path: path, "not a safetensors file (\(why)); write it with safetensors' save_file")
        }
        guard data.count >= 8 else { throw DatasetError(.truncated, path: path, "only \(data.count) bytes: the file is truncated; write it again") }
        let length = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length >= 2, length <= UInt64(data.count - 8) else {
            throw DatasetError(.truncated, path: path, "its header length \(length) does not fit a \(data.count)-byte file: it is truncated or not safetensors; write it again")
        }
        let headerEnd = 8 + Int(length)
        guard let header = try? JSONSerialization.jsonObject(with: data[8..<headerEnd]) as? [String: Any] else { throw bad("its header is not JSON") }
        let body = data[headerEnd...]
        var tensors: [String: NumericArray] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw bad("tensor \(name) lacks dtype, shape or data_offsets") }
            guard let element = element(dtype) else {
                throw DatasetError(.unsupportedType, path: path, "tensor \(name) is \(dtype); save images as uint8 or float32 and labels as integers")
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= body.count else {
                throw DatasetError(.truncated, path: path, "tensor \(name) ends at byte \(offsets[1]) of a \(body.count)-byte data section: the file is truncated; write it again")
            }
            let start = body.startIndex
            tensors[name] = try NumericArray(shape: shape, element: element, bytes: body[(start + offsets[0])..<(start + offsets[1])],
                                             name: "tensor \(name)", path: path)
        }
        return tensors
    }

    static func element(_ dtype: String) -> NumericArray.Element? {
        switch dtype {
        case "U8": .uint8
        case "I8": .int8
        case "BOOL": .bool
        case "U16": .uint16
        case "I16": .int16
        case "F16": .float16
        case "U32": .uint32
        case "I32": .int32
        case "F32": .float32
        case "U64": .uint64
        case "I64": .int64
        case "F64": .float64
        default: nil
        }
    }
}
