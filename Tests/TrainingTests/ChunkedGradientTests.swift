import Dataset
import Foundation
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

    /// A step's chunks shared among 1 to 5 threads give the same integers, the same packed width and
    /// the same score, step after step (the threads' BLAS calls run at once: OpenBLAS, told to use
    /// one thread, computes each caller's product on the caller's thread, to the same bits).
    func testAnyThreadCountGivesTheSameSumAndScore() {
        let spec = ModelSpec(layerSizes: [784, 64, 10])
        let data = LabeledImages(pixels: (0..<(784 * 300)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) },
                                 labels: (0..<300).map { UInt8($0 % 10) }, featureCount: 784, classCount: 10)
        let format = FixedPointFormat(largestChunk: 32)
        let rows = (0..<Int32(300)).map { ($0 * 7) % 300 }
        // Uneven chunks, as a worker's or an epoch's last step has them.
        let sizes = [32, 32, 17, 32, 5, 32, 32, 32, 1, 32]
        var expected: (sums: [Int64], width: Int, score: BatchScore)?
        for threads in 1...5 {
            let chunks = ChunkedGradient(spec: spec, largestChunk: 32, format: format, threads: threads)
            XCTAssertEqual(chunks.threads, threads)
            for step in 0..<3 {
                var parameters = spec.initialParameters(.he, seed: UInt64(step))
                parameters[0] += Float(step)
                chunks.reset()
                let score = rows.withUnsafeBufferPointer { rows in
                    sizes.withUnsafeBufferPointer { sizes in
                        parameters.withUnsafeBufferPointer { chunks.addChunks(rows, sizes: sizes, of: data, parameters: $0.baseAddress!) }
                    }
                }
                guard let score else { return XCTFail("\(threads) threads, step \(step): diverged") }
                XCTAssertEqual(score.samples, sizes.reduce(0, +))
                if step == 2 {
                    if let expected {
                        XCTAssertEqual(chunks.sum.values, expected.sums, "\(threads) threads")
                        XCTAssertEqual(chunks.sum.packedWidth, expected.width, "\(threads) threads")
                        XCTAssertEqual(score, expected.score, "\(threads) threads")
                    } else {
                        expected = (chunks.sum.values, chunks.sum.packedWidth, score)
                    }
                }
            }
        }
    }

    /// Distorted images give the same sums on any number of threads (each lane draws a sample's
    /// distortion from the sample itself), and another sum than the plain images.
    func testAugmentedStepsAreTheSameOnAnyThreads() {
        let spec = ModelSpec(layerSizes: [784, 16, 10])
        let data = LabeledImages(pixels: (0..<(784 * 12)).map { UInt8(truncatingIfNeeded: ($0 % 784 > 300 && $0 % 784 < 500 ? 200 : 0) + $0 / 784) },
                                 labels: (0..<12).map { UInt8($0 % 10) }, featureCount: 784, classCount: 10)
        let parameters = spec.initialParameters(.he, seed: 4)
        func sums(threads: Int, sizes: [Int], augment: AugmentationKind?) -> [Int64] {
            let chunks = ChunkedGradient(spec: spec, largestChunk: 6, format: FixedPointFormat(largestChunk: 6), threads: threads)
            chunks.augmentation = augment.map { Augmentation(kind: $0, seed: 9, epoch: 3, side: 28) }
            let rows = (0..<Int32(12)).map { $0 }
            let score = rows.withUnsafeBufferPointer { rows in
                sizes.withUnsafeBufferPointer { sizes in
                    parameters.withUnsafeBufferPointer { chunks.addChunks(rows, sizes: sizes, of: data, parameters: $0.baseAddress!) }
                }
            }
            XCTAssertNotNil(score)
            return chunks.sum.values
        }
        for kind in AugmentationKind.allCases {
            let one = sums(threads: 1, sizes: [6, 6], augment: kind)
            XCTAssertEqual(sums(threads: 3, sizes: [6, 6], augment: kind), one, "\(kind): 3 threads")
            XCTAssertNotEqual(sums(threads: 1, sizes: [6, 6], augment: nil), one, "\(kind) changed nothing")
        }
    }

    /// A chunk that diverges on any thread fails the step, and says why.
    func testADivergingChunkOnAnotherThreadFailsTheStep() {
        let format = FixedPointFormat(largestChunk: 4)
        var parameters = spec.initialParameters(.he, seed: 1)
        for threads in [1, 3] {
            let chunks = ChunkedGradient(spec: spec, largestChunk: 4, format: format, threads: threads)
            parameters[0] = .nan
            let rows: [Int32] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], sizes = [4, 4, 2]
            let score = rows.withUnsafeBufferPointer { rows in
                sizes.withUnsafeBufferPointer { sizes in
                    parameters.withUnsafeBufferPointer { chunks.addChunks(rows, sizes: sizes, of: data, parameters: $0.baseAddress!) }
                }
            }
            XCTAssertNil(score, "\(threads) threads")
            guard case .lossNotFinite = chunks.divergence(epoch: 1, step: 1, learningRate: 0.1) else { return XCTFail("\(threads) threads") }
        }
    }

    /// The threads' sums left apart and added as they are converted give the floats of the one
    /// sum, and `floats(into:then:)` hands each range on once.
    func testFloatsOfSumsLeftApartAreTheSumsFloats() {
        let spec = ModelSpec(layerSizes: [784, 32, 10])
        let data = LabeledImages(pixels: (0..<(784 * 100)).map { UInt8(truncatingIfNeeded: $0 &* 40_503 >> 5) },
                                 labels: (0..<100).map { UInt8($0 % 10) }, featureCount: 784, classCount: 10)
        let format = FixedPointFormat(largestChunk: 16)
        let parameters = spec.initialParameters(.he, seed: 3)
        let rows = (0..<Int32(100)).map { $0 }, sizes = [16, 16, 16, 16, 16, 16, 4]
        func step(_ chunks: ChunkedGradient, combine: Bool) -> [Float] {
            chunks.reset()
            let score = rows.withUnsafeBufferPointer { rows in
                sizes.withUnsafeBufferPointer { sizes in
                    parameters.withUnsafeBufferPointer { chunks.addChunks(rows, sizes: sizes, of: data, parameters: $0.baseAddress!, combine: combine) }
                }
            }
            XCTAssertNotNil(score)
            var floats = [Float](repeating: .nan, count: spec.parameterCount)
            var covered = [Int](repeating: 0, count: spec.parameterCount)
            let lock = NSLock()
            floats.withUnsafeMutableBufferPointer { out in
                chunks.floats(into: out) { range in lock.withLock { for i in range { covered[i] += 1 } } }
            }
            XCTAssertTrue(covered.allSatisfy { $0 == 1 })
            return floats
        }
        let one = ChunkedGradient(spec: spec, largestChunk: 16, format: format)
        let expected = step(one, combine: true)
        var viaSum = [Float](repeating: 0, count: spec.parameterCount)
        viaSum.withUnsafeMutableBufferPointer { one.sum.floats(into: $0) }
        XCTAssertEqual(expected.map(\.bitPattern), viaSum.map(\.bitPattern))
        for threads in 1...4 {
            let chunks = ChunkedGradient(spec: spec, largestChunk: 16, format: format, threads: threads)
            for _ in 0..<2 {
                XCTAssertEqual(step(chunks, combine: false).map(\.bitPattern), expected.map(\.bitPattern), "\(threads) threads, apart")
                XCTAssertEqual(step(chunks, combine: true).map(\.bitPattern), expected.map(\.bitPattern), "\(threads) threads, combined")
            }
        }
    }
}
