import MLP
import Roles
import XCTest
@testable import Training

/// The one account both trainers keep: reports, the schedule's progress, and a wrecked run seen.
final class RunAccountingTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func testEpochReportsCountTrainingTimeOnly() {
        var account = RunAccounting(epochs: 2, samplesPerEpoch: 100, now: 0)
        account.beginEpoch(now: 0)
        account.recordStep(BatchScore(lossSum: 50, samples: 50))
        XCTAssertEqual(account.stepProgress(now: second).samplesPerSecond, 50)
        account.recordStep(BatchScore(lossSum: 25, samples: 50))
        account.pauseClock(now: 2 * second)
        // Evaluation from 2 s to 3 s does not count as training.
        let report = account.finishEpoch(testAccuracy: 0.9, step: 2, workers: 1, distributed: false, now: 3 * second)
        XCTAssertEqual(report.trainLoss, 0.75)
        XCTAssertEqual(report.samplesPerSecond, 50)
        XCTAssertEqual(report.elapsedSeconds, 3)
        XCTAssertEqual(account.samplesSeen, 100)
        XCTAssertFalse(account.isFinished)
        let config = OptimizerConfig(kind: .sgd, learningRate: 1, schedule: .cosine)
        XCTAssertEqual(account.learningRate(config), 0.5, accuracy: 1e-6, "half the run seen: half way down the cosine")
    }

    /// Accuracy at chance after having been well above it: the run is wrecked, not finished.
    func testCollapseToChanceIsAnError() {
        var account = RunAccounting(epochs: 3, samplesPerEpoch: 10, now: 0)
        account.beginEpoch(now: 0)
        XCTAssertNil(account.collapse(testAccuracy: 0.09, classCount: 10), "chance from the start is not a collapse")
        _ = account.finishEpoch(testAccuracy: 0.95, step: 1, workers: 1, distributed: false, now: 0)
        account.beginEpoch(now: 0)
        XCTAssertNil(account.collapse(testAccuracy: 0.9, classCount: 10))
        XCTAssertEqual(account.collapse(testAccuracy: 0.098, classCount: 10), .accuracyCollapsed(epoch: 2, accuracy: 0.098, best: 0.95))
    }
}
