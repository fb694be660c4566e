import XCTest
@testable import Wire

/// bf16 on the wire: rounding, the bulk's size, and the receiver's checks.
final class WirePrecisionTests: XCTestCase {
    let run: UInt64 = 0xABCD

    func bf16Bytes(_ values: [Float]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * 2)
        bytes.withUnsafeMutableBytes { bulk in values.withUnsafeBufferPointer { WirePrecision.bf16.encode($0, into: bulk) } }
        return bytes
    }

    func bits(_ bytes: [UInt8]) -> [UInt16] {
        stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
    }

    /// Round to nearest, ties to even, on the 16 bits kept; NaN stays NaN; what fits stays exact.
    func testRoundsToNearestEven() {
        let values: [Float] = [
            1, -2.5,                   // exact in bf16
            1 + 0x1p-8,                // halfway between 1 and 1 + 2^-7: ties to the even 1
            1 + 3 * 0x1p-8,            // halfway between 1 + 2^-7 and 1 + 2^-6: ties to the even 1 + 2^-6
            1 + 0x1p-8 + 0x1p-20,      // just above halfway: up
            -(1 + 0x1p-8 - 0x1p-20),   // just below halfway: down, in magnitude
            .nan, .infinity, 0x1p-130, // NaN, infinity, a subnormal
        ]
        let encoded = bits(bf16Bytes(values))
        XCTAssertEqual(Array(encoded[0..<6]), [0x3F80, 0xC020, 0x3F80, 0x3F82, 0x3F81, 0xBF80])
        XCTAssertEqual(encoded[6] & 0x7F80, 0x7F80)
        XCTAssertNotEqual(encoded[6] & 0x007F, 0, "NaN must stay NaN")
        XCTAssertEqual(encoded[7], 0x7F80)
        XCTAssertEqual(Float(bitPattern: UInt32(encoded[8]) << 16), 0x1p-130)
    }

    /// bf16 halves the weights only: a bf16 run's gradients are the same exact Int64 sums as a float32 run's.
    func testWeightsCarryHalfTheBytesAndGradientsStayExact() throws {
        let parameters: [Float] = [0.5, -1, 3e-8, 0, 65504]
        let step = try encode(bulk: bf16Bytes(parameters)) {
            try $0.step(runID: run, step: 4, epoch: 1, indices: [1, 0] as [UInt32], parameterCount: 5, precision: .bf16)
        }
        XCTAssertEqual(step[2].count, 10)
        var received = [Float](repeating: .nan, count: 5)
        try decoding(step, DecodeContext(receiver: .worker, runID: run, parameterCount: 5, shardCount: 2, precision: .bf16)) { envelope in
            guard case .step(let view) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertNil(view.parameters.alignedFloat32, "bf16 weights must be widened before use")
            received.withUnsafeMutableBufferPointer { view.parameters.copy(into: $0) }
            XCTAssertEqual(Array(view.parameters), received)
        }
        for (sent, got) in zip(parameters, received) { XCTAssertEqual(got, sent, accuracy: abs(sent) * 0x1p-8) }

        let sums: [Int64] = [1, 2, 3, -5, 1 << 50]
        let gradient = try encode(bulk: sums.withUnsafeBytes { Array($0) }) {
            try $0.gradient(runID: run, step: 4, sampleCount: 2, lossSum: 1, computeNanoseconds: 1, parameterCount: 5, precision: .bf16)
        }
        XCTAssertEqual(gradient[2].count, 40)
        try decoding(gradient, DecodeContext(receiver: .coordinator, runID: run, parameterCount: 5, precision: .bf16)) { envelope in
            guard case .gradient(let view) = envelope.body else { return XCTFail("\(envelope.body)") }
            XCTAssertEqual((0..<5).map { view.sums.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }, sums)
        }
    }

    /// Float32 weights where the run expects bf16 are the wrong size, and so is a gradient in
    /// bf16 (gradients are Int64 in every run); a bf16 NaN is caught.
    func testReceiverChecksTheRunsPrecision() throws {
        let float32 = try encode(bulk: [Float](repeating: 1, count: 5).withUnsafeBytes { Array($0) }) {
            try $0.step(runID: run, step: 4, epoch: 1, indices: [0] as [UInt32], parameterCount: 5)
        }
        assertRejects(float32, DecodeContext(receiver: .worker, runID: run, parameterCount: 5, shardCount: 1, precision: .bf16)) {
            if case .parameterCount(.step, got: 10, expected: 5) = $0 { true } else { false }
        }
        let bf16Gradient = try encode(bulk: bf16Bytes([1, 2, 3, 4, 5, 6, 7, 8])) {
            try $0.gradient(runID: run, step: 4, sampleCount: 2, lossSum: 1, computeNanoseconds: 1, parameterCount: 2)
        }
        assertRejects(bf16Gradient, DecodeContext(receiver: .coordinator, runID: run, parameterCount: 8, precision: .bf16)) {
            if case .parameterCount(.gradient, got: 2, expected: 8) = $0 { true } else { false }
        }
        var values = [Float](repeating: 1, count: 1000)
        values[700] = .nan
        let poisoned = try encode(bulk: bf16Bytes(values)) {
            try $0.step(runID: run, step: 4, epoch: 1, indices: [0] as [UInt32], parameterCount: 1000, precision: .bf16)
        }
        assertRejects(poisoned, DecodeContext(receiver: .worker, runID: run, parameterCount: 1000, shardCount: 1, precision: .bf16)) {
            if case .nonFinite(.step, index: 700, let value) = $0 { value.isNaN } else { false }
        }
    }
}
