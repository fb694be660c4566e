import MLP
import Plan
import XCTest
@testable import Training

/// The one account both trainers keep: reports, the schedule's progress, and a wrecked run seen.
final class RunAccountingTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func testEpochReportsCountTrainingTimeOnly() {
        var account = RunAccounting(epochs: 2, samplesPerEpoch: 100, now: 0)
        account.beginEpoch(now: 0)
        account.recordStep(BatchScore(lossSum: 50, samples: 50))
        XCTAssertEqual(account.stepProgress(epoch: 1, now: second).samplesPerSecond, 50)
        account.recordStep(BatchScore(lossSum: 25, samples: 50))
        account.pauseClock(now: 2 * second)
        // Evaluation from 2 s to 3 s does not count as training.
        let report = account.finishEpoch(1, testAccuracy: 0.9, step: 2, workers: 1, distributed: false, now: 3 * second)
        XCTAssertEqual(report.trainLoss, 0.75)
        XCTAssertEqual(report.samplesPerSecond, 50)
        XCTAssertEqual(report.elapsedSeconds, 3)
        XCTAssertEqual(account.samplesSeen, 100)
        let config = OptimizerConfig(kind: .sgd, learningRate: 1, schedule: .cosine)
        XCTAssertEqual(account.learningRate(config), 0.5, accuracy: 1e-6, "half the run seen: half way down the cosine")
    }

    /// A checkpoint mid-epoch keeps the epoch's training time and the untrained loss, so the
    /// resumed epoch's rate counts its samples over all their time, and divergence is judged
    /// against the loss the run started from.
    func testACheckpointKeepsTheEpochsTimeAndTheStartLoss() {
        var account = RunAccounting(epochs: 2, samplesPerEpoch: 100, now: 0)
        account.beginEpoch(now: 0)
        account.recordStep(BatchScore(lossSum: 10, samples: 50))
        account.pauseClock(now: second)   // 50 samples in the epoch's first second
        let assignment = ShardAssignment(plan: ShardPlan(sampleCount: 100, shardCount: 1, batchSize: 50, seed: 1), holderIDs: [1])
        let state = account.checkpointState(training: .standard(), sampleCount: 100,
                                            resume: .init(step: 1, course: RunCourse(epochs: 2, stepsPerEpoch: 2), memberIDs: [1], nextID: 2, assignment: assignment),
                                            optimizerStep: 1, divergenceStartLoss: 2.3)
        XCTAssertEqual(state.divergenceStartLoss, 2.3)
        XCTAssertEqual(DivergenceCheck(startLoss: state.divergenceStartLoss).startLoss, 2.3)
        var resumed = RunAccounting(epochs: 2, samplesPerEpoch: 100, restoring: state, now: 10 * second)
        resumed.resumeClock(now: 10 * second)
        resumed.recordStep(BatchScore(lossSum: 10, samples: 50))
        let report = resumed.finishEpoch(1, testAccuracy: 0.9, step: 2, workers: 1, distributed: false, now: 11 * second)
        XCTAssertEqual(report.samples, 100)
        XCTAssertEqual(report.epochSamplesPerSecond, 50, "100 samples over the epoch's 2 s of training, not over the 1 s since the resume")
    }
}
