import CSignals
import Foundation

/// Process-wide signal handling, set up by the commands that run a coordinator or a worker in
/// this process: the drivers only read the stop flag, and never change how the process as a whole
/// treats a signal.
enum ProcessSignals {
    /// A peer gone shows as EPIPE on its step or answer pipe, which must not kill the process.
    static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }

    /// SIGTERM and SIGINT set the stop flag: a coordinator finishes the step in hand, checkpoints
    /// and tells its workers; a worker leaves at the end of its step. A second signal stops at once.
    static func stopAtTheEndOfTheStep() { dptrain_catch_stop_signals() }
}
