import CZlib

/// gzip's magic bytes: a file that starts with them is inflated, any other is read raw.
func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

/// Inflates a whole gzip member. Throws `corruptGzip` on bad data and `truncated`
/// when the stream ends early.
func gunzip(_ compressed: [UInt8], path: String) throws -> [UInt8] {
    // The trailer's ISIZE (size mod 2^32) is the right capacity for any IDX file we take;
    // it is only a hint, so the buffer still grows if the stream says otherwise.
    var capacity = 1 << 16
    if compressed.count >= 18 {
        let n = compressed.count
        let isize = Int(compressed[n - 4]) | Int(compressed[n - 3]) << 8 | Int(compressed[n - 2]) << 16 | Int(compressed[n - 1]) << 24
        // Deflate cannot expand more than about 1032:1, so a larger ISIZE is a damaged trailer.
        capacity = max(capacity, min(isize, compressed.count * 1032))
    }
    var output = [UInt8](repeating: 0, count: capacity)
    var stream = z_stream()
    // 15 + 32: a window of 2^15 and automatic gzip/zlib header detection.
    guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw DatasetError(.corruptGzip, path: path, "zlib could not start inflating")
    }
    defer { inflateEnd(&stream) }

    var produced = 0
    var status = Z_OK
    try compressed.withUnsafeBufferPointer { input in
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = uInt(input.count)
        while status != Z_STREAM_END {
            if produced == output.count { output.append(contentsOf: repeatElement(0, count: output.count)) }
            status = output.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress! + produced
                stream.avail_out = uInt(out.count - produced)
                let result = inflate(&stream, Z_NO_FLUSH)
                produced = out.count - Int(stream.avail_out)
                return result
            }
            switch status {
            case Z_OK, Z_STREAM_END:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw DatasetError(.truncated, path: path, "the gzip stream ends early: the file is truncated; download or copy it again")
            case Z_BUF_ERROR:
                continue
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw DatasetError(.corruptGzip, path: path, "not a valid gzip file (\(reason)); download or copy it again")
            }
        }
    }
    output.removeSubrange(produced...)
    return output
}
