import Foundation
import Supervision

/// dptrain launch's terminal: the children's lines scroll above, and the
/// coordinator's progress bar stays on the last line, redrawn in place. The
/// coordinator sends its bar as frames (`ProgressDisplay.frameMarker`) because
/// its standard error is a pipe to launch, not the terminal.
final class LaunchTerminal {
    private var bar: String?

    /// Whether launch's standard error is a terminal, where a bar can be drawn.
    static var isAvailable: Bool { isatty(STDERR_FILENO) == 1 }

    /// Asks the children launch starts next (the coordinator draws, workers ignore it) for frames
    /// as wide as this terminal.
    static func askChildrenForFrames() {
        setenv(ProgressDisplay.framesVariable, String(Terminal.columns(of: STDERR_FILENO)), 1)
    }

    /// The process group's sink: called one call at a time, on the group's output queue.
    func write(_ stream: ProcessGroup.Stream, _ lines: String) {
        var passed = ""
        var newBar: String?
        for line in lines.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if let marker = line.range(of: ProgressDisplay.frameMarker) {
                newBar = String(line[marker.upperBound...])
            } else {
                passed += line + "\n"
            }
        }
        let clear = bar == nil ? "" : "\r\u{1B}[K"
        if !passed.isEmpty {
            ProcessGroup.writeToParent(.errors, clear)
            ProcessGroup.writeToParent(stream, passed)
        }
        if let newBar { bar = newBar }
        if let bar, !passed.isEmpty || newBar != nil {
            // Cut to the terminal as it is now, in case it narrowed since the coordinator drew the frame.
            let room = max(Terminal.columns(of: STDERR_FILENO) - 1, 1)
            ProcessGroup.writeToParent(.errors, "\r\u{1B}[K" + String(bar.prefix(room)))
        }
    }

    /// Takes the bar away, for the lines after the run.
    func finish() {
        if bar != nil { ProcessGroup.writeToParent(.errors, "\r\u{1B}[K") }
        bar = nil
    }
}
