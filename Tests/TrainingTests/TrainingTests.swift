import Dataset
import Foundation
import MLP
import XCTest
import Plan
@testable import Training

/// Real training on the MNIST bundled with dptrain.
final class TrainingTests: XCTestCase {
    static let mnist: MNIST = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try! MNIST(directory: root.appendingPathComponent("data/mnist").path)
    }()

    override class func setUp() { BLAS.useOneThread() }

    func testDefaultModelReaches97PercentInThreeEpochs() throws {
        let config = TrainingConfig.standard()
        XCTAssertEqual(config.model.layerSizes, [784, 128, 10])
        XCTAssertEqual(config.batchSize, 128)
        let report = try SingleProcessTrainer(config: config, train: Self.mnist.train, test: Self.mnist.test).run()
        XCTAssertGreaterThanOrEqual(report.testAccuracy, 0.97)
        XCTAssertEqual(report.step, 3 * 469)
    }

    func testSeedPresetReaches85PercentInThreeEpochs() throws {
        let config = TrainingConfig.seedPreset()
        XCTAssertEqual(config.model.layerSizes, [784, 10, 10])
        XCTAssertFalse(config.model.useBias)
        let report = try SingleProcessTrainer(config: config, train: Self.mnist.train, test: Self.mnist.test).run()
        XCTAssertGreaterThanOrEqual(report.testAccuracy, 0.85)
    }

    func testSameSeedGivesBitIdenticalWeights() throws {
        var config = TrainingConfig.standard()
        config.epochs = 1
        let train = Self.mnist.train.subset(0..<5000)
        let first = try SingleProcessTrainer(config: config, train: train, test: Self.mnist.test.subset(0..<100))
        let second = try SingleProcessTrainer(config: config, train: train, test: Self.mnist.test.subset(0..<100))
        try first.run()
        try second.run()
        XCTAssertEqual(first.parameters, second.parameters)
        config.seed = 2
        let third = try SingleProcessTrainer(config: config, train: train, test: Self.mnist.test.subset(0..<100))
        try third.run()
        XCTAssertNotEqual(first.parameters, third.parameters)
    }

    func testDivergingLossStopsWithAdvice() throws {
        var config = TrainingConfig.standard()
        config.optimizer.learningRate = 1e38
        config.optimizer.schedule = .constant
        let trainer = try SingleProcessTrainer(config: config, train: Self.mnist.train.subset(0..<2000), test: Self.mnist.test.subset(0..<100))
        XCTAssertThrowsError(try trainer.run()) { error in
            guard case TrainingError.lossNotFinite = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("lower learning rate"))
        }
    }

    func testMetricsFileHasAnEpochLineEachAndADoneLine() throws {
        let path = NSTemporaryDirectory() + "dptrain-metrics-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = TrainingConfig.standard()
        config.epochs = 2
        let log = RunLogs(every: 10, [try MetricsLog(path: path)])
        try SingleProcessTrainer(config: config, train: Self.mnist.train.subset(0..<3000), test: Self.mnist.test.subset(0..<500))
            .run(observer: log)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let all = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        // 24 steps an epoch: step lines at 10, 20, 30 and 40, in their places.
        XCTAssertEqual(all.map { $0["event"] as? String }, ["step", "step", "epoch", "step", "step", "epoch", "done"])
        XCTAssertEqual(all.filter { $0["event"] as? String == "step" }.map { $0["step"] as? Int }, [10, 20, 30, 40])
        XCTAssertEqual(all[3]["epoch"] as? Int, 2)
        let objects = all.filter { $0["event"] as? String != "step" }
        for key in ["epoch", "step", "train_loss", "test_accuracy", "samples_per_second", "elapsed_seconds", "workers"] {
            XCTAssertTrue(objects.allSatisfy { $0[key] is NSNumber }, "missing \(key)")
        }
        XCTAssertEqual(objects[1]["step"] as? Int, 2 * 24)
        XCTAssertEqual(objects[2]["workers"] as? Int, 1)
    }
}
