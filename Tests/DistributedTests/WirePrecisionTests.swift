import Foundation
import MLP
import Roles
import Training
import Wire
import XCTest
@testable import Distributed

/// --wire-precision bf16: the weights travel as bfloat16, the coordinator keeps float32;
/// gradients stay exact Int64 sums.
extension DistributedTrainingTests {
    /// Three epochs of MNIST with two workers at a global batch of 128: bf16 weights learn as
    /// well as float32, and a step moves 2 + 8 bytes a parameter rather than 4 + 8.
    func testBF16TrainsAsWellAsFloat32WithHalfTheWeightBytes() throws {
        var config = TrainingConfig.standard()
        config.epochs = 3
        config.batchSize = 128
        let float32 = try distributed(config, workers: 2, train: mnist.train, test: mnist.test).report
        let bf16 = try distributed(config, workers: 2, train: mnist.train, test: mnist.test, precision: .bf16).report
        XCTAssertGreaterThanOrEqual(bf16.testAccuracy, 0.97)
        XCTAssertEqual(bf16.testAccuracy, float32.testAccuracy, accuracy: 0.003)
        let floatBytes = Double(try XCTUnwrap(float32.timings).bytes), halfBytes = Double(try XCTUnwrap(bf16.timings).bytes)
        // Weights halved, gradients (Int64) as they were; headers, indices and the small messages too.
        XCTAssertEqual(halfBytes / floatBytes, 10.0 / 12.0, accuracy: 0.01, "bytes per step: \(halfBytes) with bf16, \(floatBytes) with float32")
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
