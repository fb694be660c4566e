import CZlib
import Foundation

/// zlib's CRC-32 of `bytes`, for files that check their own integrity (checkpoints):
/// the Dataset module is the one wrapper of zlib.
public func crc32Checksum<Bytes: DataProtocol>(_ bytes: Bytes) -> UInt32 {
    var crc = crc32(0, nil, 0)
    for region in bytes.regions {
        region.withUnsafeBytes { raw in
            crc = crc32(crc, raw.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(raw.count))
        }
    }
    return UInt32(crc)
}
