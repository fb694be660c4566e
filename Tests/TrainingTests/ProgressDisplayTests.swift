import XCTest
import Roles
@testable import Training

/// What a person sees: the bar on a terminal, one line per epoch elsewhere.
final class ProgressDisplayTests: XCTestCase {
    func testBarCountsSamplesAndTimeLeft() {
        var written = ""
        let display = ProgressDisplay(interactive: true) { written += $0 }
        // Half of the first of two epochs in 10 s: 30 s left.
        display.stepFinished(StepProgress(epoch: 1, epochs: 2, samplesInEpoch: 30_000, samplesPerEpoch: 60_000,
                                          loss: 0.25, samplesPerSecond: 3_000, elapsedSeconds: 10))
        XCTAssertTrue(written.contains("epoch 1/2 ████████████············ 30,000/60,000 samples"), written)
        XCTAssertTrue(written.contains("loss 0.2500  3,000 samples/s  30s left"), written)
    }

    func testPlainOutputIsOneLinePerEpoch() {
        var written = ""
        let display = ProgressDisplay(interactive: false) { written += $0 }
        display.stepFinished(StepProgress(epoch: 1, epochs: 1, samplesInEpoch: 10, samplesPerEpoch: 20,
                                          loss: 1, samplesPerSecond: 5, elapsedSeconds: 2))
        XCTAssertEqual(written, "")
        display.epochFinished(TrainingReport(epoch: 1, step: 469, trainLoss: 0.3, testAccuracy: 0.9612,
                                             samplesPerSecond: 124_509.4, elapsedSeconds: 0.5, workers: 2))
        XCTAssertEqual(written, "epoch 1  step 469  loss 0.3000  test accuracy 0.9612  124,509 samples/s  0.5s  workers 2\n")
    }
}
