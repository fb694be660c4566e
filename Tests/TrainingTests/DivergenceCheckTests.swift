import XCTest
@testable import Training

/// The divergence rule on made-up losses and accuracies: what it calls diverged and what it lets learn.
final class DivergenceCheckTests: XCTestCase {
    func testLossFarAboveItsStartIsDivergence() {
        var check = DivergenceCheck()
        XCTAssertNil(check.stepFinished(lossSum: 2.3 * 128, samples: 128))
        for _ in 1..<(DivergenceCheck.window - 1) { XCTAssertNil(check.stepFinished(lossSum: 40 * 128, samples: 128)) }
        // The window is full only now: the mean of 2.3 and nineteen 40s is far above 4 x 2.3.
        XCTAssertEqual(check.stepFinished(lossSum: 40 * 128, samples: 128), .lossRose(from: 2.3, to: (2.3 + 19 * 40) / 20))
    }

    func testFallingOrNoisyLossIsLearning() {
        var check = DivergenceCheck()
        for step in 0..<500 {
            let loss = 2.3 * exp(-Double(step) / 100) + (step % 7 == 0 ? 3 : 0)   // falling, with spikes
            XCTAssertNil(check.stepFinished(lossSum: loss * 100, samples: 100), "step \(step)")
        }
    }

    func testNonFiniteLoss() {
        var check = DivergenceCheck()
        XCTAssertNil(check.stepFinished(lossSum: 230, samples: 100))
        XCTAssertEqual(check.stepFinished(lossSum: .nan, samples: 100), .lossNotFinite)
        XCTAssertEqual(check.stepFinished(lossSum: .infinity, samples: 100), .lossNotFinite)
    }

    func testAccuracyAtChanceAfterAnEpoch() {
        let check = DivergenceCheck()
        XCTAssertEqual(check.epochFinished(testAccuracy: 0.0974, testSamples: 10_000, classCount: 10),
                       .accuracyAtChance(accuracy: 0.0974, classCount: 10))
        XCTAssertNil(check.epochFinished(testAccuracy: 0.30, testSamples: 10_000, classCount: 10))
        // Too few test samples to tell chance from bad luck.
        XCTAssertNil(check.epochFinished(testAccuracy: 0.0, testSamples: 4, classCount: 3))
    }

    func testMessagesSayWhatHappenedAndWhatToDo() {
        XCTAssertEqual(TrainingError.divergence(.lossRose(from: 2.35, to: 62.99), epoch: 1, step: 20, learningRate: 100).description,
                       "training diverged at epoch 1, step 20: the loss rose from 2.35 at the start to 62.99 over the last 20 steps; try a lower learning rate than --lr 100.0")
        XCTAssertEqual(TrainingError.divergence(.accuracyAtChance(accuracy: 0.1032, classCount: 10), epoch: 1, step: 1875, learningRate: 100).description,
                       "training diverged: test accuracy 0.1032 after epoch 1 is no better than chance among 10 classes; try a lower learning rate than --lr 100.0")
        XCTAssertEqual(TrainingError.divergence(.lossNotFinite, epoch: 2, step: 7, learningRate: 1e38),
                       .lossNotFinite(epoch: 2, step: 7, learningRate: 1e38))
    }
}
