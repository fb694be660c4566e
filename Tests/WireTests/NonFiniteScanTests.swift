import CKernels
import XCTest

/// The scan for NaN and infinity in weights from the network reads a frame in place at any
/// alignment (libzmq's frames are not always 4-byte aligned) and names the first bad value.
final class NonFiniteScanTests: XCTestCase {
    func testFindsTheFirstBadValueAtAnyAlignment() {
        let count = 4100
        for offset in 0..<4 {
            for (index, bad) in [(0, Float.nan), (511, .infinity), (512, -.infinity), (4000, .nan), (count - 1, .infinity)] {
                var floats = [Float](repeating: 1.5, count: count)
                floats[index] = bad
                if index + 7 < count { floats[index + 7] = .nan }   // a later one is not the answer
                var bytes = [UInt8](repeating: 0, count: offset + 4 * count)
                floats.withUnsafeBytes { source in bytes.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: source.baseAddress!, byteCount: source.count) } }
                let found = bytes.withUnsafeBytes { dptrain_float_first_non_finite($0.baseAddress!.advanced(by: offset), count) }
                XCTAssertEqual(found, index, "offset \(offset), \(bad) at \(index)")
            }
            let clean = [UInt8](repeating: 0, count: offset + 4 * count)   // zeros are finite
            XCTAssertEqual(clean.withUnsafeBytes { dptrain_float_first_non_finite($0.baseAddress!.advanced(by: offset), count) }, count)
        }
    }
}
