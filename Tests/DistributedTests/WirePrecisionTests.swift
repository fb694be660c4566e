import Foundation
import MLP
import Plan
import Roles
import Training
import Wire
import XCTest
@testable import Distributed

/// --wire-precision bf16: the weights travel as bfloat16, the coordinator keeps float32;
/// gradients stay exact fixed-point sums, on a grid coarse enough to travel in 2 bytes a value.
extension DistributedTrainingTests {
    /// Three epochs of MNIST with two workers at a global batch of 128 (64 a worker), over the
    /// socket: bf16 learns as well as float32, and a step moves under half float32's bytes
    /// (2 + 2 bytes a parameter a worker rather than 4 + 5: weights as bfloat16, gradient sums
    /// packed to 2 bytes on the coarse grid where the fine grid's need 5).
    func testBF16TrainsAsWellAsFloat32WithHalfTheBytes() throws {
        var config = TrainingConfig.standard()
        config.epochs = 3
        config.batchSize = 128
        let float32 = try distributed(config, workers: 2, train: mnist.train, test: mnist.test, sharedMemory: false).report
        let bf16 = try distributed(config, workers: 2, train: mnist.train, test: mnist.test, precision: .bf16, sharedMemory: false).report
        XCTAssertGreaterThanOrEqual(bf16.testAccuracy, 0.97)
        XCTAssertEqual(bf16.testAccuracy, float32.testAccuracy, accuracy: 0.003)
        let floatBytes = Double(try XCTUnwrap(float32.timings).bytes), halfBytes = Double(try XCTUnwrap(bf16.timings).bytes)
        XCTAssertLessThanOrEqual(halfBytes / floatBytes, 0.5, "bytes per step: \(halfBytes) with bf16, \(floatBytes) with float32")
        XCTAssertGreaterThan(halfBytes / floatBytes, 4.0 / 9.0 - 0.01, "no fewer than 2 + 2 bytes against 4 + 5: \(halfBytes), \(floatBytes)")
    }

    /// A bf16 run's sums are on the coarse grid: the same chunk's gradient, rounded there, is
    /// 2^24 times fewer units, and a converging run's sums fit 2 bytes a value.
    func testBF16SumsOnTheCoarseGrid() {
        let fine = FixedPointFormat(largestChunk: 64, precision: .float32), coarse = FixedPointFormat(largestChunk: 64, precision: .bf16)
        XCTAssertEqual(fine.fractionBits - coarse.fractionBits, FixedPointFormat.coarseGridBits)
        var sum = FixedPointSum(format: coarse, count: 3)
        XCTAssertTrue([Float(15.9), -15.9, 0.001].withUnsafeBufferPointer { sum.add(chunk: $0) })
        XCTAssertEqual(sum.packedWidth, 2)
        var fineSum = FixedPointSum(format: fine, count: 3)
        XCTAssertTrue([Float(15.9), -15.9, 0.001].withUnsafeBufferPointer { fineSum.add(chunk: $0) })
        XCTAssertEqual(fineSum.packedWidth, 5)
    }

    /// The same seed gives the same weights, to the bit, with bf16 too, whatever the number of
    /// workers (their gradients are exact sums); and not float32's.
    func testBF16RunsAreBitIdentical() throws {
        var config = TrainingConfig.standard()
        config.epochs = 1
        config.batchSize = 96
        let train = mnist.train.subset(0..<2048), test = mnist.test.subset(0..<100)
        let first = try distributed(config, workers: 3, train: train, test: test, precision: .bf16).coordinator.parameters
        let second = try distributed(config, workers: 1, train: train, test: test, precision: .bf16).coordinator.parameters
        XCTAssertEqual(first, second)
        let float32 = try distributed(config, workers: 3, train: train, test: test).coordinator.parameters
        XCTAssertNotEqual(first, float32, "bf16 must round what travels")
    }
}
