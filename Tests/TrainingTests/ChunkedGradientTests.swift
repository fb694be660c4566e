import Dataset
import MLP
import Training
import XCTest

/// A step's sum is its chunks' alone: a reset costs no pass (the first chunk writes the sum), so
/// what the last step left must never show, with no chunk or with one.
final class ChunkedGradientTests: XCTestCase {
    let spec = ModelSpec(layerSizes: [4, 3, 2])
    let data = LabeledImages(pixels: (0..<40).map { UInt8($0 * 5) }, labels: (0..<10).map { UInt8($0 % 2) }, featureCount: 4, classCount: 2)

    func add(_ indices: [Int32], to chunks: ChunkedGradient, parameters: [Float]) {
        let score = indices.withUnsafeBufferPointer { i in parameters.withUnsafeBufferPointer { chunks.add(i, of: data, parameters: $0.baseAddress!) } }
        XCTAssertNotNil(score)
    }

    func testAStepsSumIsItsChunksAlone() {
        let parameters = spec.initialParameters(.he, seed: 1)
        let format = FixedPointFormat(largestChunk: 4)
        let first: [Int32] = [0, 1, 2, 3], second: [Int32] = [4, 5, 6]
        let alone = ChunkedGradient(spec: spec, largestChunk: 4, format: format)
        add(second, to: alone, parameters: parameters)

        let chunks = ChunkedGradient(spec: spec, largestChunk: 4, format: format)
        add(first, to: chunks, parameters: parameters)
        add(first, to: chunks, parameters: parameters)
        XCTAssertNotEqual(chunks.sum.values, [Int64](repeating: 0, count: spec.parameterCount))
        chunks.reset()
        XCTAssertEqual(chunks.sum.values, [Int64](repeating: 0, count: spec.parameterCount), "a step with no chunk")
        XCTAssertEqual(chunks.sum.packedWidth, 1)
        add(second, to: chunks, parameters: parameters)
        XCTAssertEqual(chunks.sum.values, alone.sum.values, "the step's one chunk, not added to the last step's")
        XCTAssertEqual(chunks.sum.packedWidth, alone.sum.packedWidth)
        chunks.reset()
        add(second, to: chunks, parameters: parameters)
        add(first, to: chunks, parameters: parameters)
        let both = ChunkedGradient(spec: spec, largestChunk: 4, format: format)
        add(first, to: both, parameters: parameters)
        add(second, to: both, parameters: parameters)
        XCTAssertEqual(chunks.sum.values, both.sum.values, "two chunks in either order")
    }
}
