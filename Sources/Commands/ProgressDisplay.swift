import Foundation
import Training

/// Shows a run's progress: a bar redrawn in place on a terminal, fitted to its
/// width so that it never wraps; under `dptrain launch`, frames that launch
/// draws on its own terminal; plain lines (one per epoch) on a file or a pipe.
public final class ProgressDisplay: TrainingObserver {
    public enum Mode: Equatable {
        /// A terminal: the bar is redrawn in place; `columns` is asked each frame, so a resize is followed.
        case terminal
        /// Under launch: each frame a line of its own behind `ProgressDisplay.frameMarker`, `columns` wide.
        case frames
        /// A file or a pipe: one line per epoch.
        case lines
    }

    private let mode: Mode
    private let columns: () -> Int
    private let write: (String) -> Void
    /// The run's training time at the last frame drawn.
    private var lastDraw = -Double.infinity
    /// Where the first step seen left the run. That step's time is mostly warm-up (the workers'
    /// first batches, page faults), so the time left goes by the rate measured after it: from
    /// the first step alone, a 3-second run would be promised in 48.
    private var firstStep: (samples: Int, seconds: Double)?

    /// Marks a line that holds a bar for launch to draw; no log line starts with a control character.
    public static let frameMarker = "\u{1}progress "
    /// Set by launch for its coordinator: draw frames this many columns wide.
    public static let framesVariable = "DPTRAIN_PROGRESS_FRAMES"

    /// Draws on standard error: a bar on a terminal, frames when launch asked for them, else lines.
    public convenience init() {
        let frameColumns = ProcessInfo.processInfo.environment[Self.framesVariable].flatMap(Int.init)
        let mode: Mode = isatty(STDERR_FILENO) == 1 ? .terminal : frameColumns != nil ? .frames : .lines
        self.init(mode: mode, columns: { mode == .terminal ? Terminal.columns(of: STDERR_FILENO) : frameColumns ?? 80 }) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    public init(mode: Mode, columns: @escaping () -> Int = { 80 }, write: @escaping (String) -> Void) {
        self.mode = mode
        self.columns = columns
        self.write = write
    }

    public func stepFinished(_ progress: StepProgress) {
        guard mode != .lines else { return }
        let firstStep = self.firstStep ?? (progress.samplesDone, progress.elapsedSeconds)
        self.firstStep = firstStep
        // Ten frames a second of training is smooth enough and costs nothing next to a step. The
        // time is the progress's own, so the display reads no clock.
        guard progress.elapsedSeconds - lastDraw >= 0.1 || progress.samplesInEpoch == progress.samplesPerEpoch else { return }
        lastDraw = progress.elapsedSeconds
        let bar = Self.bar(progress, secondsLeft: progress.secondsLeft(since: firstStep), columns: columns())
        write(mode == .terminal ? "\r\u{1B}[K" + bar : Self.frameMarker + bar + "\n")
    }

    public func epochFinished(_ report: TrainingReport) {
        if mode == .terminal { write("\r\u{1B}[K") }
        write(Self.line(report) + "\n")
    }

    /// An early end of the run gets its line, after the epoch's that decided it.
    public func event(_ name: String, _ fields: [(String, JSONValue)]) {
        guard let line = Self.earlyEndLine(name, fields) else { return }
        write(line + "\n")
    }

    /// "target reached: accuracy 0.9812 after epoch 2, 3.1s of training and 120,000 samples", or
    /// the patience's "stopped early", from the event's fields; nil for any other event.
    static func earlyEndLine(_ name: String, _ fields: [(String, JSONValue)]) -> String? {
        func number(_ key: String) -> Double? {
            switch fields.first(where: { $0.0 == key })?.1 {
            case .int(let value): return Double(value)
            case .double(let value): return value
            default: return nil
            }
        }
        guard let epoch = number("epoch"), let seconds = number("seconds"), let samples = number("samples") else { return nil }
        let trained = String(format: "%.1fs of training and %@ samples", seconds, grouped(samples))
        switch name {
        case "target_reached":
            return String(format: "target reached: accuracy %.4f after epoch %d, ", number("accuracy") ?? .nan, Int(epoch)) + trained
        case "stopped_early":
            return String(format: "stopped early after epoch %d: no better accuracy since epoch %d's %.4f; ", Int(epoch),
                          Int(number("best_epoch") ?? 0), number("best_accuracy") ?? .nan) + trained
        default:
            return nil
        }
    }

    /// The bar for a terminal `columns` wide, at most `columns - 1` characters: a line that
    /// fills the last column wraps on some terminals. What matters least goes first when
    /// it does not fit: the sample counts, the rate, the time left, then the loss. The time left
    /// is left out until there is a rate to go by.
    public static func bar(_ progress: StepProgress, secondsLeft: Double?, columns: Int) -> String {
        let room = max(columns - 1, 1)
        let head = "epoch \(progress.epoch)/\(progress.epochs) "
        var tail: [String] = [
            " \(grouped(Double(progress.samplesInEpoch)))/\(grouped(Double(progress.samplesPerEpoch)))",
            String(format: "  loss %.4f", progress.loss),
            "  \(grouped(progress.samplesPerSecond)) samples/s",
            secondsLeft.map { "  \(duration($0)) left" } ?? "",
        ]
        let dropOrder = [0, 2, 3, 1]
        var dropped = 0
        while true {
            let text = tail.joined()
            let barWidth = min(room - head.count - text.count, 40)
            if barWidth >= 8 || dropped == dropOrder.count {
                let width = max(barWidth, 0)
                let filled = width * progress.samplesInEpoch / max(progress.samplesPerEpoch, 1)
                let line = head + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + text
                return String(line.prefix(room))
            }
            tail[dropOrder[dropped]] = ""
            dropped += 1
        }
    }

    public static func line(_ report: TrainingReport) -> String {
        let (name, accuracy) = report.validationAccuracy.map { ("validation", $0) } ?? ("test", report.testAccuracy)
        return String(format: "epoch %d  step %d  loss %.4f  %@ accuracy %.4f  %@ samples/s  %.1fs  workers %d",
                      report.epoch, report.step, report.trainLoss, name, accuracy,
                      grouped(report.samplesPerSecond), report.elapsedSeconds, report.workers)
    }

    /// 123456.7 -> "123,457"
    public static func grouped(_ value: Double) -> String { Training.grouped(value) }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

enum Terminal {
    /// The terminal's width in columns, from the kernel; COLUMNS, or 80, when it will not say.
    static func columns(of descriptor: Int32) -> Int {
        var size = winsize()
        if ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init) ?? 80
    }
}
