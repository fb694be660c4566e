import XCTest
import Roles
@testable import Training

/// What a person sees: the bar on a terminal, one line per epoch elsewhere.
final class ProgressDisplayTests: XCTestCase {
    func testBarCountsSamplesAndTimeLeft() {
        var written = ""
        let display = ProgressDisplay(interactive: true) { written += $0 }
        // A first step of 128 samples slowed by warm-up: no rate to go by yet.
        display.stepFinished(StepProgress(epoch: 1, epochs: 3, samplesInEpoch: 128, samplesPerEpoch: 60_000,
                                          loss: 2.3, samplesPerSecond: 64, elapsedSeconds: 2))
        XCTAssertTrue(written.hasSuffix("loss 2.3000  64 samples/s"), written)
        // Then 29,872 samples in 0.5 s: 150,000 samples left take 2.5 s, not the 12.5 s that
        // the whole 2.5 s since the start would promise.
        Thread.sleep(forTimeInterval: 0.11)   // the bar redraws ten times a second
        display.stepFinished(StepProgress(epoch: 1, epochs: 3, samplesInEpoch: 30_000, samplesPerEpoch: 60_000,
                                          loss: 0.25, samplesPerSecond: 12_000, elapsedSeconds: 2.5))
        XCTAssertTrue(written.contains("epoch 1/3 ████████████············ 30,000/60,000 samples"), written)
        XCTAssertTrue(written.hasSuffix("loss 0.2500  12,000 samples/s  3s left"), written)
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
