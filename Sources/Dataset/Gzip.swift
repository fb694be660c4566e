import CZlib

/// gzip's magic bytes: a file that starts with them is inflated, any other is read raw.
func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

/// Deflate cannot expand data more than about 1032:1: a header that promises more
/// than this many times the compressed size belongs to a truncated file.
let deflateMaximumRatio = 1032

/// Inflates a whole gzip member whose first `prefixLength` uncompressed bytes say how
/// long the whole is: `size` reads them and returns the total (throwing if they are
/// not a header it takes). The output never grows past that size, so a damaged file
/// costs no more memory than a good one would; a truncated file is refused with what
/// it holds, not with what its garbage trailer claims.
///
/// Throws `corruptGzip` on bad data, `truncated` when the stream ends before the
/// promised size and `sizeMismatch` when it goes on past it. When the stream ends
/// within the prefix, returns what there is, for the caller to judge.
func gunzip(_ compressed: [UInt8], path: String, prefixLength: Int, size: ([UInt8]) throws -> Int) throws -> [UInt8] {
    var stream = z_stream()
    // 15 + 32: a window of 2^15 and automatic gzip/zlib header detection.
    guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw DatasetError(.corruptGzip, path: path, "zlib could not start inflating")
    }
    defer { inflateEnd(&stream) }

    return try compressed.withUnsafeBufferPointer { input in
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = uInt(input.count)

        var prefix = [UInt8](repeating: 0, count: prefixLength)
        let (prefixEnd, prefixProduced) = try prefix.withUnsafeMutableBufferPointer { out in
            try inflate(&stream, into: out, path: path)
        }
        if prefixEnd != .full { return Array(prefix[..<prefixProduced]) }

        let total = try size(prefix)
        guard total <= compressed.count * deflateMaximumRatio else {
            throw DatasetError(.truncated, path: path,
                               "its header promises \(total) bytes, more than \(compressed.count) compressed bytes can hold: the file is truncated; download or copy it again")
        }
        // The output grows as the stream produces, never past the promised size and one byte
        // (which tells a stream that goes on from one that ends), so a header that promises
        // more than the data holds costs nothing. The first guess fits MNIST's files at once;
        // capacity is not touched until inflate writes it.
        let limit = total + 1
        var capacity = min(limit, max(compressed.count * 8, 1 << 20))
        var output = prefix
        var end = InflateEnd.full
        while end == .full && output.count < limit {
            let held = output
            output = try [UInt8](unsafeUninitializedCapacity: capacity) { out, initialized in
                out.baseAddress!.update(from: held, count: held.count)
                let (reason, produced) = try inflate(&stream, into: UnsafeMutableBufferPointer(rebasing: out[held.count...]), path: path)
                initialized = held.count + produced
                end = reason
            }
            capacity = min(limit, capacity * 2)
        }
        switch end {
        case .streamEnded where output.count == total:
            return output
        case .streamEnded, .inputEnded:
            throw DatasetError(.truncated, path: path,
                               "it inflates to \(output.count) of the \(total) bytes its header promises: the file is truncated; download or copy it again")
        case .full:
            throw DatasetError(.sizeMismatch, path: path,
                               "it inflates to more than the \(total) bytes its header promises; download or copy it again")
        }
    }
}

private enum InflateEnd { case streamEnded, full, inputEnded }

/// Inflates into `out` until the gzip stream ends, `out` is full, or the input runs out
/// mid-stream (a truncated file); returns which, and the bytes written.
private func inflate(_ stream: inout z_stream, into out: UnsafeMutableBufferPointer<UInt8>, path: String) throws -> (InflateEnd, Int) {
    var produced = 0
    while produced < out.count {
        // zlib counts in 32 bits: at most 1 GiB a call.
        let piece = min(out.count - produced, 1 << 30)
        stream.next_out = out.baseAddress! + produced
        stream.avail_out = uInt(piece)
        let status = CZlib.inflate(&stream, Z_NO_FLUSH)
        produced += piece - Int(stream.avail_out)
        switch status {
        case Z_STREAM_END:
            return (.streamEnded, produced)
        case Z_OK:
            continue
        case Z_BUF_ERROR where stream.avail_in == 0:
            return (.inputEnded, produced)
        default:
            let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
            throw DatasetError(.corruptGzip, path: path, "not a valid gzip file (\(reason)); download or copy it again")
        }
    }
    return (.full, produced)
}
