import Foundation
import XCTest
@testable import TensorBoard

/// The bytes of an event file, checked against published values; TensorBoard's own
/// reader reads whole runs' files in CommandsTests.TensorBoardReaderTests.
final class EventFileTests: XCTestCase {
    func testCRC32CMatchesThePublishedCheckValue() {
        // The check value of CRC-32C (RFC 3720, appendix B.4): "123456789" -> 0xE3069283.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
    }

    func testRecordFramingHasLengthAndMaskedChecksums() {
        let framed = EventFileWriter.framed([1, 2, 3])
        XCTAssertEqual(framed.count, 8 + 4 + 3 + 4)
        XCTAssertEqual(Array(framed[0..<8]), [3, 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = framed[8..<12].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
        XCTAssertEqual(lengthCRC, CRC32C.masked([3, 0, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(Array(framed[12..<15]), [1, 2, 3])
    }

    func testScalarEventEncodesTagValueAndStep() {
        let event = EventProtobuf.scalars([("loss", 0.5)], step: 300, wallTime: 1)
        // wall_time (field 1, 64-bit): 0x09 then 1.0 as a little-endian double.
        XCTAssertEqual(Array(event[0..<9]), [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
        // step (field 2, varint): 300 = 0xAC 0x02.
        XCTAssertEqual(Array(event[9..<12]), [0x10, 0xAC, 0x02])
        // summary (field 5) { value (field 1) { tag "loss", simple_value (field 2, 32-bit) 0.5 } }
        XCTAssertEqual(Array(event[12...]), [0x2A, 13, 0x0A, 11, 0x0A, 4] + Array("loss".utf8) + [0x15, 0, 0, 0, 0x3F])
    }

    func testAFolderThatCannotBeMadeIsOneClearError() {
        XCTAssertThrowsError(try EventFileWriter(directory: "/proc/no-such/runs")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/proc/no-such/runs: cannot create the folder"), "\(error)")
        }
    }
}
