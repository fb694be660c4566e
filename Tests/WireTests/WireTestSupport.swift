import XCTest
@testable import Wire

/// Frames as byte arrays: what a socket would carry.
typealias Frames = [[UInt8]]

/// Builds one message with `build`, then returns its frames with `bulk` as the third.
func encode(bulk: [UInt8] = [], _ build: (inout MessageEncoder) throws -> Void) rethrows -> Frames {
    var encoder = MessageEncoder()
    try build(&encoder)
    return bulk.withUnsafeBytes { bulk in encoder.withFrames(bulk: bulk) { $0.map { Array($0) } } }
}

func bytes(of floats: [Float]) -> [UInt8] { floats.withUnsafeBytes { Array($0) } }

/// Decodes `frames` and hands the envelope to `body` while the frames' memory is alive.
func decoding<R>(_ frames: Frames, _ context: DecodeContext, _ body: (Envelope) throws -> R) throws -> R {
    let copies = frames.map { frame in
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count, alignment: 16)
        frame.withUnsafeBytes { copy.copyMemory(from: $0) }
        return UnsafeRawBufferPointer(copy)
    }
    defer { copies.forEach { $0.deallocate() } }
    return try body(try decode(frames: copies, context: context))
}

/// Asserts that decoding `frames` throws a WireError that `matches` accepts, and returns it.
@discardableResult
func assertRejects(_ frames: Frames, _ context: DecodeContext,
                   file: StaticString = #filePath, line: UInt = #line,
                   _ matches: (WireError) -> Bool) -> WireError? {
    do {
        try decoding(frames, context) { _ in }
        XCTFail("accepted a message that should be rejected", file: file, line: line)
    } catch let error as WireError {
        XCTAssertTrue(matches(error), "wrong rejection: \(error)", file: file, line: line)
        XCTAssertFalse(error.description.isEmpty, file: file, line: line)
        return error
    } catch {
        XCTFail("threw \(error), not a WireError", file: file, line: line)
    }
    return nil
}

extension Array where Element == UInt8 {
    /// Overwrites the little-endian bytes of `value` at `offset`.
    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset..<offset + $0.count, with: $0) }
    }
}
