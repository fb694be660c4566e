import MLP
import XCTest
@testable import Plan

/// The recipe's learning rates: schedules, warmup and scaling with the batch, as a user reads them in the docs.
final class LearningRateTests: XCTestCase {
    func testOneCycleClimbsFromAtwentyFifthToTheBaseThenFallsAlmostToZero() {
        let oneCycle = LearningRateSchedule.oneCycle
        XCTAssertEqual(oneCycle.rate(base: 1, progress: 0), 0.04, accuracy: 1e-7)
        XCTAssertEqual(oneCycle.rate(base: 1, progress: 0.15), 0.52, accuracy: 1e-6, "half way up: the mean of 1/25 and 1")
        XCTAssertEqual(oneCycle.rate(base: 1, progress: 0.3), 1, accuracy: 1e-7)
        XCTAssertEqual(oneCycle.rate(base: 1, progress: 0.65), 0.5, accuracy: 1e-5)
        XCTAssertEqual(oneCycle.rate(base: 1, progress: 1), 4e-6, accuracy: 1e-9)
        XCTAssertEqual(oneCycle.rate(base: 3e-3, progress: 0.3), 3e-3)
    }

    func testLinearFallsToZero() {
        XCTAssertEqual(LearningRateSchedule.linear.rate(base: 0.2, progress: 0), 0.2)
        XCTAssertEqual(LearningRateSchedule.linear.rate(base: 0.2, progress: 0.75), 0.05, accuracy: 1e-7)
        XCTAssertEqual(LearningRateSchedule.linear.rate(base: 0.2, progress: 1), 0)
    }

    /// Warmup over 4 steps of 10 samples: the first step at a quarter of the rate (not zero), the
    /// fourth at the full rate, whether it is given in steps or in epochs.
    func testWarmupClimbsToTheScheduledRateByItsLastStep() {
        var config = TrainingConfig.standard()
        config.batchSize = 10
        config.epochs = 10
        config.optimizer.schedule = .constant
        config.optimizer.learningRate = 0.4
        for warmup in [Warmup.steps(4), .epochs(0.5)] {
            config.warmup = warmup
            let rates = (0..<6).map { config.learningRate(samplesSeen: 10 * $0, samplesPerEpoch: 80) }
            XCTAssertEqual(rates, [0.1, 0.2, 0.3, 0.4, 0.4, 0.4], "\(warmup)")
        }
        config.warmup = nil
        XCTAssertEqual(config.learningRate(samplesSeen: 0, samplesPerEpoch: 80), 0.4)
    }

    func testWarmupIsReadInStepsOrEpochs() {
        XCTAssertEqual(Warmup(argument: "500"), .steps(500))
        XCTAssertEqual(Warmup(argument: "1epoch"), .epochs(1))
        XCTAssertEqual(Warmup(argument: "0.5epochs"), .epochs(0.5))
        XCTAssertNil(Warmup(argument: "soon"))
        XCTAssertNil(Warmup(argument: "1.5"))
        XCTAssertEqual(Warmup.epochs(2).argument, "2epochs")
        XCTAssertEqual(Warmup.epochs(0.5).argument, "0.5epochs")
        var config = TrainingConfig.standard()
        config.warmup = .steps(-1)
        XCTAssertEqual(config.problems, ["--warmup must be zero or more steps (got -1)"])
        config.warmup = nil
        config.stopping = StoppingRule(targetAccuracy: 98, patience: 0)
        XCTAssertEqual(config.problems, ["--target-accuracy must be a fraction in (0, 1], such as 0.98 (got 98.0)",
                                         "--patience must be at least 1 epoch (got 0)"])
    }

    func testScalingGrowsTheRateWithTheBatchOverTheReference() {
        XCTAssertEqual(LearningRateScaling.referenceBatch, 128)
        XCTAssertEqual(LearningRateScaling.linear.factor(batch: 512), 4)
        XCTAssertEqual(LearningRateScaling.sqrt.factor(batch: 512), 2)
        XCTAssertEqual(LearningRateScaling.linear.factor(batch: 128), 1)
    }
}
