import CZlib
import Foundation

/// The members of a zip file (an .npz), found through its central directory, stored or
/// deflated, zip64 or not; each member's CRC-32 is checked as it is read.
struct ZipArchive {
    struct Entry {
        let method: Int
        let crc: UInt32
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let path: String
    let data: Data
    private(set) var entries: [String: Entry] = [:]
    private(set) var names: [String] = []

    init(path: String) throws {
        self.path = path
        data = try readWhole(path)
        try readDirectory()
    }

    private func corrupt(_ why: String) -> DatasetError {
        DatasetError(.corruptArchive, path: path, "not a whole .npz (zip) file (\(why)): it is truncated or damaged; write it again")
    }

    private func u16(_ at: Int) -> Int { Int(data[data.startIndex + at]) | Int(data[data.startIndex + at + 1]) << 8 }
    private func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
    private func u64(_ at: Int) -> Int { u32(at) | u32(at + 4) << 32 }

    private mutating func readDirectory() throws {
        // The end-of-central-directory record: 22 bytes and a comment of up to 64 KiB, at the end.
        guard data.count >= 22 else { throw corrupt("only \(data.count) bytes") }
        var end = -1
        var at = data.count - 22
        while at >= max(0, data.count - 22 - 65_535) {
            if u32(at) == 0x0605_4B50 { end = at; break }
            at -= 1
        }
        guard end >= 0 else { throw corrupt("no end-of-directory record") }
        var count = u16(end + 10)
        var directoryOffset = u32(end + 16)
        // zip64: a locator just before points at the zip64 end record, whose fields are whole.
        if end >= 20, u32(end - 20) == 0x0706_4B50 {
            let record = u64(end - 20 + 8)
            guard record >= 0, record + 56 <= data.count, u32(record) == 0x0606_4B50 else { throw corrupt("a bad zip64 record") }
            count = u64(record + 32)
            directoryOffset = u64(record + 48)
        }
        at = directoryOffset
        for _ in 0..<count {
            guard at >= 0, at + 46 <= data.count, u32(at) == 0x0201_4B50 else { throw corrupt("a bad directory entry") }
            let nameLength = u16(at + 28), extraLength = u16(at + 30), commentLength = u16(at + 32)
            guard at + 46 + nameLength + extraLength <= data.count else { throw corrupt("a directory entry cut short") }
            let nameStart = data.startIndex + at + 46
            let name = String(decoding: data[nameStart..<(nameStart + nameLength)], as: UTF8.self)
            var compressed = u32(at + 20), size = u32(at + 24), offset = u32(at + 42)
            // The zip64 extra field holds, in this order, those of the three that read 0xFFFFFFFF.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = u16(extra), length = u16(extra + 2)
                if id == 0x0001 {
                    var field = extra + 4
                    if size == 0xFFFF_FFFF { size = u64(field); field += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = u64(field); field += 8 }
                    if offset == 0xFFFF_FFFF { offset = u64(field) }
                }
                extra += 4 + length
            }
            entries[name] = Entry(method: u16(at + 10), crc: UInt32(u32(at + 16)), compressedSize: compressed,
                                  size: size, localHeaderOffset: offset)
            names.append(name.hasSuffix(".npy") ? String(name.dropLast(4)) : name)
            at += 46 + nameLength + extraLength + commentLength
        }
    }

    /// The bytes of member `name`, or nil when the archive has none of that name.
    func member(_ name: String) throws -> Data? {
        guard let entry = entries[name] else { return nil }
        let local = entry.localHeaderOffset
        guard local >= 0, local + 30 <= data.count, u32(local) == 0x0403_4B50 else { throw corrupt("\(name) has no local header") }
        let start = local + 30 + u16(local + 26) + u16(local + 28)
        guard entry.compressedSize >= 0, start + entry.compressedSize <= data.count else {
            throw corrupt("\(name) ends past the end of the file")
        }
        let stored = data[(data.startIndex + start)..<(data.startIndex + start + entry.compressedSize)]
        let bytes: Data
        switch entry.method {
        case 0:
            bytes = stored
        case 8:
            bytes = try inflateRaw(stored, size: entry.size, name: name)
        default:
            throw DatasetError(.unsupportedType, path: path, "\(name) is compressed by zip method \(entry.method); save with numpy.savez or numpy.savez_compressed")
        }
        guard bytes.count == entry.size, crc32Checksum(bytes) == entry.crc else {
            throw corrupt("\(name) does not match its checksum")
        }
        return bytes
    }

    /// Inflates a raw deflate stream that the directory says holds `size` bytes.
    private func inflateRaw(_ input: Data, size: Int, name: String) throws -> Data {
        guard size >= 0, size <= max(input.count, 1) * deflateMaximumRatio else { throw corrupt("\(name) claims \(size) bytes") }
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw corrupt("zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output = Data(count: size + 1)
        let status: Int32 = input.withUnsafeBytes { inRaw in
            output.withUnsafeMutableBytes { outRaw in
                stream.next_in = UnsafeMutablePointer(mutating: inRaw.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(inRaw.count)
                stream.next_out = outRaw.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(outRaw.count)
                var status = Z_OK
                while status == Z_OK { status = CZlib.inflate(&stream, Z_NO_FLUSH) }
                return status
            }
        }
        guard status == Z_STREAM_END else { throw corrupt("\(name) is not valid deflate data") }
        output.count = Int(stream.total_out)
        return output
    }
}
