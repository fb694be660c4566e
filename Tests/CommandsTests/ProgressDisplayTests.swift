import XCTest
@testable import Commands
@testable import Training

/// What a person sees: the bar on a terminal of any width, one line per epoch elsewhere,
/// and the bar of a run under launch on launch's terminal.
final class ProgressDisplayTests: XCTestCase {
    let halfway = StepProgress(epoch: 1, epochs: 2, samplesInEpoch: 30_000, samplesPerEpoch: 60_000,
                               loss: 0.25, samplesPerSecond: 3_000, elapsedSeconds: 10)

    func testBarCountsSamplesAndTimeLeft() {
        var written = ""
        let display = ProgressDisplay(mode: .terminal, columns: { 120 }) { written += $0 }
        // A first step of 128 samples slowed by warm-up: no rate to go by yet.
        display.stepFinished(StepProgress(epoch: 1, epochs: 3, samplesInEpoch: 128, samplesPerEpoch: 60_000,
                                          loss: 2.3, samplesPerSecond: 64, elapsedSeconds: 2))
        XCTAssertTrue(written.hasSuffix("loss 2.3000  64 samples/s"), written)
        // Then 29,872 samples in 0.5 s: 150,000 samples left take 2.5 s, not the 12.5 s that
        // the whole 2.5 s since the start would promise.
        // The bar redraws ten times a second of the run's time: not at 2.05 s, again at 2.5 s.
        written = ""
        display.stepFinished(StepProgress(epoch: 1, epochs: 3, samplesInEpoch: 256, samplesPerEpoch: 60_000,
                                          loss: 2.2, samplesPerSecond: 120, elapsedSeconds: 2.05))
        XCTAssertEqual(written, "")
        display.stepFinished(StepProgress(epoch: 1, epochs: 3, samplesInEpoch: 30_000, samplesPerEpoch: 60_000,
                                          loss: 0.25, samplesPerSecond: 12_000, elapsedSeconds: 2.5))
        XCTAssertTrue(written.hasPrefix("\r\u{1B}[Kepoch 1/3 " + String(repeating: "█", count: 20) + String(repeating: "·", count: 20)), written)
        XCTAssertTrue(written.hasSuffix(" 30,000/60,000  loss 0.2500  12,000 samples/s  3s left"), written)
    }

    func testBarFitsEveryWidthWithoutTheLastColumn() {
        for columns in [20, 40, 60, 80, 200] {
            let bar = ProgressDisplay.bar(halfway, secondsLeft: 30, columns: columns)
            XCTAssertLessThanOrEqual(bar.count, columns - 1, "\(columns) columns: \(bar)")
            XCTAssertTrue(bar.hasPrefix("epoch 1/2 "), bar)
        }
        XCTAssertTrue(ProgressDisplay.bar(halfway, secondsLeft: 30, columns: 80).contains("loss 0.2500"))
        XCTAssertTrue(ProgressDisplay.bar(halfway, secondsLeft: 30, columns: 200).contains("30,000/60,000  loss 0.2500  3,000 samples/s  30s left"))
        XCTAssertFalse(ProgressDisplay.bar(halfway, secondsLeft: 30, columns: 60).contains("30,000/60,000"), "counts go first when room is short")
    }

    func testFramesForLaunchAreLinesOfTheirOwn() {
        var written = ""
        let display = ProgressDisplay(mode: .frames, columns: { 80 }) { written += $0 }
        display.stepFinished(halfway)
        XCTAssertTrue(written.hasPrefix(ProgressDisplay.frameMarker + "epoch 1/2 "), written)
        XCTAssertTrue(written.hasSuffix("\n"))
    }

    func testPlainOutputIsOneLinePerEpoch() {
        var written = ""
        let display = ProgressDisplay(mode: .lines) { written += $0 }
        display.stepFinished(StepProgress(epoch: 1, epochs: 1, samplesInEpoch: 10, samplesPerEpoch: 20,
                                          loss: 1, samplesPerSecond: 5, elapsedSeconds: 2))
        XCTAssertEqual(written, "")
        display.epochFinished(TrainingReport(epoch: 1, step: 469, trainLoss: 0.3, testAccuracy: 0.9612,
                                             samplesPerSecond: 124_509.4, elapsedSeconds: 0.5, workers: 2))
        XCTAssertEqual(written, "epoch 1  step 469  loss 0.3000  test accuracy 0.9612  124,509 samples/s  0.5s  workers 2\n")
    }
}

/// The real executable on a pseudo-terminal of 60, 80 and 200 columns.
final class TerminalProcessTests: XCTestCase {
    /// Every bar drawn on a pseudo-terminal `columns` wide by `arguments`, and everything written.
    func bars(columns: Int, _ arguments: [String]) throws -> (bars: [String], output: String) {
        let tool = ObservabilityProcessTests.tools + "/run_in_pty.py"
        let result = try runToEnd("/usr/bin/env", ["python3", tool, String(columns), ProcessTests.executable] + arguments)
        XCTAssertEqual(result.status, 0, result.output + result.errors)
        // Each redraw starts with a carriage return and erase-line; the bar runs to the next line end or redraw.
        let bars = result.output.components(separatedBy: "\r\u{1B}[K").dropFirst()
            .map { String(String.UnicodeScalarView($0.unicodeScalars.prefix { $0 != "\r" && $0 != "\n" })) }
            .filter { $0.range(of: #"^epoch \d+/\d+ "#, options: .regularExpression) != nil }
        return (bars, result.output)
    }

    func testTrainBarFitsTheTerminal() throws {
        for columns in [60, 80, 200] {
            let run = try bars(columns: columns, ["train", "--epochs", "1"])
            XCTAssertFalse(run.bars.isEmpty, "a bar at \(columns) columns: \(run.output)")
            for bar in run.bars { XCTAssertLessThan(bar.count, columns, "at \(columns) columns: \(bar)") }
        }
    }

    /// Under launch the coordinator's bar reaches launch's terminal, below the workers' lines.
    func testLaunchDrawsTheCoordinatorsBar() throws {
        let run = try bars(columns: 80, ["launch", "--workers", "2", "--epochs", "1"])
        XCTAssertFalse(run.bars.isEmpty, run.output)
        for bar in run.bars { XCTAssertLessThan(bar.count, 80, bar) }
        XCTAssertTrue(run.output.contains("[worker 1]"), run.output)
        XCTAssertFalse(run.output.contains("progress epoch"), "frames are drawn, not printed")
    }
}
