import Foundation

/// Shows a run's progress: a bar redrawn in place on a terminal, plain lines
/// (one per epoch) when the output is a file or a pipe.
public final class ProgressDisplay: TrainingObserver {
    private let interactive: Bool
    private var lastDraw: UInt64 = 0
    /// Where the first step seen left the run. That step's time is mostly warm-up (the workers'
    /// first batches, page faults), so the time left goes by the rate measured after it: from
    /// the first step alone, a 3-second run would be promised in 48.
    private var firstStep: (samples: Int, seconds: Double)?
    private let write: (String) -> Void

    /// Draws on standard error, as a bar when it is a terminal.
    public convenience init() {
        self.init(interactive: isatty(STDERR_FILENO) == 1) { text in FileHandle.standardError.write(Data(text.utf8)) }
    }

    public init(interactive: Bool, write: @escaping (String) -> Void) {
        self.interactive = interactive
        self.write = write
    }

    public func stepFinished(_ progress: StepProgress) {
        guard interactive else { return }
        let firstStep = self.firstStep ?? (progress.samplesDone, progress.elapsedSeconds)
        self.firstStep = firstStep
        // Ten frames a second is smooth enough and costs nothing next to a step.
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastDraw > 100_000_000 || progress.samplesInEpoch == progress.samplesPerEpoch else { return }
        lastDraw = now
        let width = 24
        let filled = width * progress.samplesInEpoch / max(progress.samplesPerEpoch, 1)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let left = progress.secondsLeft(since: firstStep).map { "  \(Self.duration($0)) left" } ?? ""
        write(String(format: "\r\u{1B}[Kepoch %d/%d %@ %@/%@ samples  loss %.4f  %@ samples/s%@",
                     progress.epoch, progress.epochs, bar, ProgressDisplay.grouped(Double(progress.samplesInEpoch)),
                     ProgressDisplay.grouped(Double(progress.samplesPerEpoch)),
                     progress.loss, Self.grouped(progress.samplesPerSecond), left))
    }

    public func epochFinished(_ report: TrainingReport) {
        if interactive { write("\r\u{1B}[K") }
        write(Self.line(report) + "\n")
    }

    public static func line(_ report: TrainingReport) -> String {
        String(format: "epoch %d  step %d  loss %.4f  test accuracy %.4f  %@ samples/s  %.1fs  workers %d",
               report.epoch, report.step, report.trainLoss, report.testAccuracy,
               grouped(report.samplesPerSecond), report.elapsedSeconds, report.workers)
    }

    /// 123456.7 -> "123,457"
    public static func grouped(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let digits = String(Int(value.rounded()))
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
