import XCTest
@testable import MLP

/// The exact sum: order-free, really a sum, bounded, and a chunk's gradient the same bits
/// whatever else the process computes.
final class FixedPointTests: XCTestCase {
    let spec = ModelSpec(layerSizes: [784, 128, 10])

    /// Inputs of `rows` pseudo-images and labels, from `seed`.
    func batch(rows: Int, seed: UInt64) -> (inputs: [Float], labels: [UInt8]) {
        var generator = SeededGenerator(seed: seed)
        return ((0..<(rows * 784)).map { _ in generator.nextUnitFloat() }, (0..<rows).map { _ in UInt8(generator.nextIndex(below: 10)) })
    }

    func gradient(_ workspace: Workspace, _ parameters: [Float], _ batch: (inputs: [Float], labels: [UInt8])) -> [Float] {
        let rows = batch.labels.count
        workspace.input.update(from: batch.inputs, count: batch.inputs.count)
        var g = [Float](repeating: 0, count: parameters.count)
        _ = workspace.gradient(parameters: parameters, labels: batch.labels, rows: rows, into: &g)
        return g
    }

    /// A chunk's gradient computed alone is the same bits in a workspace sized for it or for a
    /// much larger batch, before or after other chunks, with weights at another address: what
    /// lets any worker compute any chunk.
    func testAChunksGradientDoesNotDependOnWhatElseIsComputed() {
        let parameters = spec.initialParameters(.he, seed: 1)
        let chunk = batch(rows: 32, seed: 2), other = batch(rows: 512, seed: 3)
        let alone = gradient(Workspace(spec: spec, capacity: 32), parameters, chunk)
        let large = Workspace(spec: spec, capacity: 512)
        _ = gradient(large, parameters, other)
        let copied = Array(parameters)   // another allocation
        XCTAssertEqual(gradient(large, copied, chunk), alone)
    }

    /// Chunk sums added in any order or grouping give the same integers, and the sum differs from
    /// a plain left-to-right float sum by no more than float rounding: it really is the sum.
    func testExactSumIsOrderFreeAndIsTheSum() {
        let parameters = spec.initialParameters(.he, seed: 1)
        let workspace = Workspace(spec: spec, capacity: 32)
        let chunks = (0..<6).map { gradient(workspace, parameters, batch(rows: 32, seed: 10 + UInt64($0))) }
        let format = FixedPointFormat(largestChunk: 32)

        func exact(_ order: [Int]) -> FixedPointSum {
            var sum = FixedPointSum(format: format, count: parameters.count)
            for k in order { XCTAssertTrue(chunks[k].withUnsafeBufferPointer { sum.add(chunk: $0) }) }
            return sum
        }
        let forward = exact(Array(0..<6))
        XCTAssertEqual(exact([5, 3, 1, 0, 2, 4]).values, forward.values)
        // Grouped as two workers would: {0, 1, 2} and {3, 4, 5}, the second added as received bytes.
        var grouped = exact([0, 1, 2])
        let rest = exact([3, 4, 5])
        rest.values.withUnsafeBytes { grouped.add(received: $0) }
        XCTAssertEqual(grouped.values, forward.values)

        var floats = [Float](repeating: 0, count: parameters.count)
        floats.withUnsafeMutableBufferPointer { forward.floats(into: $0) }
        var plain = [Float](repeating: 0, count: parameters.count)
        for chunk in chunks { for i in plain.indices { plain[i] += chunk[i] } }
        var differs = 0
        for i in plain.indices {
            // Six float additions round by at most a few ulps of the largest term; the fixed point by 2^-fractionBits.
            let scale = chunks.map { abs($0[i]) }.max()!
            XCTAssertEqual(floats[i], plain[i], accuracy: 8 * scale.ulp + Float(1 / format.scale), "parameter \(i)")
            if floats[i] != plain[i] { differs += 1 }
        }
        XCTAssertGreaterThan(plain.filter { $0 != 0 }.count, parameters.count / 10, "the gradients must not be mostly zero")
        print("exact and left-to-right float sums differ in \(differs) of \(plain.count) values")
    }

    /// A value beyond the format's range, or not finite, is reported; a received sum's largest
    /// magnitude is found at any alignment, INT64_MIN included.
    func testRangeIsCheckedBothWays() {
        let format = FixedPointFormat(largestChunk: 32)
        XCTAssertEqual(format.fractionBits, 36)
        var sum = FixedPointSum(format: format, count: 3)
        let limit = Float(FixedPointFormat.chunkBound) / Float(format.scale)   // 32768
        XCTAssertTrue([1, -limit / 2, 0].withUnsafeBufferPointer { sum.add(chunk: $0) })
        XCTAssertEqual(sum.values, [1 << 36, -(1 << 50), 0])
        XCTAssertFalse([1, limit, 0].withUnsafeBufferPointer { sum.add(chunk: $0) })
        sum.reset()
        XCTAssertFalse([Float.nan, 0, 0].withUnsafeBufferPointer { sum.add(chunk: $0) })
        // Rounding is half to even, once.
        sum.reset()
        let half = Float(0.5 / format.scale)
        XCTAssertTrue([half, 3 * half, -half].withUnsafeBufferPointer { sum.add(chunk: $0) })
        XCTAssertEqual(sum.values, [0, 2, 0])

        let values: [Int64] = [5, .min, -7, 3]
        let bytes = [UInt8](repeating: 0, count: 1) + values.withUnsafeBytes { Array($0) }
        bytes.withUnsafeBytes { raw in
            let unaligned = UnsafeRawBufferPointer(rebasing: raw[1...])
            XCTAssertEqual(FixedPointSum.largestMagnitude(unaligned), 1 << 63)
            XCTAssertEqual(FixedPointSum.largestMagnitude(UnsafeRawBufferPointer(rebasing: unaligned[16...])), 7)
        }
    }

    /// Larger chunks get a coarser unit, so that a chunk's sum of per-sample gradients up to 2^10 still fits.
    /// A sum packed to the fewest bytes that hold its values, and added back from them, gives
    /// the same integers: at every width, at both ends of each width's range, negative values
    /// sign-extended; the largest magnitude reads the same packed or whole.
    func testPackedSumsAddBackToTheSameIntegers() {
        for width in 1...8 {
            let top = width == 8 ? Int64.max : (Int64(1) << (8 * width - 1)) - 1
            let bottom = width == 8 ? Int64.min : -(Int64(1) << (8 * width - 1))
            var values: [Int64] = [0, 1, -1, top, bottom, top / 3, bottom / 7]
            values += (0..<57).map { Int64($0 * 37 % 11) - 5 }
            var sum = FixedPointSum(format: FixedPointFormat(largestChunk: 64), count: values.count)
            values.withUnsafeBytes { sum.add(received: $0) }
            XCTAssertEqual(sum.packedWidth, width, "values up to \(top) and down to \(bottom)")
            var packed = [UInt8](repeating: 0xA5, count: values.count * 8)
            packed.withUnsafeMutableBytes { sum.pack(width: width, into: $0) }
            var back = FixedPointSum(format: sum.format, count: values.count)
            packed.withUnsafeBytes { back.add(received: UnsafeRawBufferPointer(rebasing: $0[0..<values.count * width]), width: width) }
            XCTAssertEqual(back.values, values, "width \(width)")
            let expected = values.map { $0.magnitude }.max()!
            packed.withUnsafeBytes {
                let packedSum = UnsafeRawBufferPointer(rebasing: $0[0..<values.count * width])
                XCTAssertEqual(FixedPointSum.largestMagnitude(packedSum, width: width), expected)
                // The bound the coordinator checks is never below the values, and within one chunk's bound for narrow widths.
                XCTAssertGreaterThanOrEqual(FixedPointSum.magnitudeBound(packedSum, width: width), expected)
                if width <= 6 { XCTAssertLessThanOrEqual(FixedPointSum.magnitudeBound(packedSum, width: width), FixedPointFormat.chunkBound) }
            }
        }
    }

    /// The width a chunk's add finds as it writes the sums is the one a pass over them finds,
    /// for chunks that leave the sums at every width, added or written in place.
    func testWidthFromTheChunksAddIsTheScannedWidth() {
        let format = FixedPointFormat(largestChunk: 64)
        for magnitude in [Float(0), 1e-12, 1e-9, 1e-6, 1e-3, 0.5, 300, 40_000, -40_000] {
            let chunk = (0..<1000).map { Float($0 % 7) / 6 * magnitude - magnitude / 3 }
            var sum = FixedPointSum(format: format, count: chunk.count)
            for replacing in [true, false] {
                XCTAssertTrue(chunk.withUnsafeBufferPointer { sum.add(chunk: $0, replacing: replacing) })
                var scanned = FixedPointSum(format: format, count: chunk.count)
                sum.values.withUnsafeBytes { scanned.add(received: $0) }
                XCTAssertEqual(sum.packedWidth, scanned.packedWidth, "chunk of up to \(magnitude), replacing \(replacing)")
            }
        }
    }

    /// The total of received sums of mixed widths at odd addresses, taken range by range as the
    /// coordinator's threads take it, is to the bit the floats of adding them one by one: for
    /// every width first (the first source is written, not added), with no source at all, and
    /// with the first answers folded in as they came.
    func testTotalByRangesIsTheSumOfTheReceivedSums() {
        let format = FixedPointFormat(largestChunk: 64), count = 1000
        for order in [[8, 5, 1, 2, 3, 4, 6, 7], [5, 8, 2], [1], [2, 2], []] {
            var expected = FixedPointSum(format: format, count: count)
            var storage: [UnsafeMutableRawBufferPointer] = []   // each source 3 bytes into its allocation
            defer { storage.forEach { $0.deallocate() } }
            for width in order {
                let top = width == 8 ? Int64(1) << 58 : (Int64(1) << (8 * width - 1)) - 1
                let values = (0..<count).map { i -> Int64 in
                    switch i % 5 { case 0: top; case 1: -top - 1; default: (Int64((i * 7919 + width) % 2001) - 1000) % top }
                }
                var sum = FixedPointSum(format: format, count: count)
                values.withUnsafeBytes { sum.add(received: $0) }
                let packed = UnsafeMutableRawBufferPointer.allocate(byteCount: 3 + count * width, alignment: 8)
                storage.append(packed)
                let source = UnsafeMutableRawBufferPointer(rebasing: packed[3...])
                sum.pack(width: width, into: source)
                expected.add(received: UnsafeRawBufferPointer(source), width: width)
            }
            var floats = [Float](repeating: .nan, count: count)
            floats.withUnsafeMutableBufferPointer { expected.floats(into: $0) }
            let sources: [UnsafeRawPointer?] = storage.map { UnsafeRawPointer($0.baseAddress! + 3) }
            let widths = order.map(Int32.init)
            // The first `folded` answers added as they came (`fold`), the rest by the total.
            for folded in 0...min(2, order.count) {
                var total = [Float](repeating: .nan, count: count), sums = [Int64](repeating: 99, count: count)
                sums.withUnsafeMutableBufferPointer { sums in
                    for index in 0..<folded { FixedPointSum.fold(sources[index]!, width: order[index], first: index == 0, into: sums) }
                }
                for range in [0..<1, 1..<333, 333..<1000] {
                    sources.withUnsafeBufferPointer { sources in
                        widths.withUnsafeBufferPointer { widths in
                            sums.withUnsafeMutableBufferPointer { sums in
                                total.withUnsafeMutableBufferPointer {
                                    FixedPointSum.total(of: sources, widths: widths, folded: folded, range: range, format: format, sums: sums, into: $0)
                                }
                            }
                        }
                    }
                }
                XCTAssertEqual(total.map(\.bitPattern), floats.map(\.bitPattern), "widths \(order), \(folded) folded first")
            }
        }
    }

    /// A bf16 run's coarse grid stops a diverging chunk at the same gradient as the fine grid,
    /// not 2^24 times later.
    func testTheCoarseGridHasTheFineGridsLimit() {
        let fine = FixedPointFormat(largestChunk: 64), coarse = FixedPointFormat(largestChunk: 64, coarse: true)
        XCTAssertEqual(fine.chunkLimitValue, 65_536)
        XCTAssertEqual(coarse.chunkLimitValue, fine.chunkLimitValue)
        var sum = FixedPointSum(format: coarse, count: 2)
        XCTAssertTrue([Float(65_000), -65_000].withUnsafeBufferPointer { sum.add(chunk: $0) })
        XCTAssertFalse([Float(65_536), 0].withUnsafeBufferPointer { sum.add(chunk: $0) })
    }

    func testFormatFollowsTheChunkSize() {
        XCTAssertEqual(FixedPointFormat(largestChunk: 1).fractionBits, 40)
        XCTAssertEqual(FixedPointFormat(largestChunk: 33).fractionBits, 35)
        XCTAssertEqual(FixedPointFormat(largestChunk: 60_000).fractionBits, 25)
    }
}
