import Foundation
import Logging
import Training

/// What `--verbose` adds for a person debugging a distributed run, beyond the joins,
/// losses and drops that are always logged.
extension Coordinator {
    /// A step's wait for its gradients counts as slow past this, and past twice the epoch's mean wait.
    static let slowWaitFloor: UInt64 = 20_000_000

    /// Logs at debug a step that waited much longer for its gradients than the epoch's steps
    /// before it: what it waited, against the slowest worker's compute, tells a slow worker
    /// from a slow network or an overloaded host.
    func logIfSlow(step: UInt64, wait: UInt64, slowestCompute: UInt64, earlierSteps earlier: StepTimings) {
        guard logger.logLevel <= .debug, wait > Self.slowWaitFloor else { return }
        let meanWait = earlier.steps > 0 ? earlier.waitNanoseconds / UInt64(earlier.steps) : 0
        guard earlier.steps == 0 || wait > 2 * meanWait else { return }
        let usual = earlier.steps > 0 ? String(format: "the epoch's steps so far waited %.0f ms", Double(meanWait) / 1e6)
                                      : "the epoch's first step"
        logger.debug(Logger.Message(stringLiteral: String(
            format: "step %llu waited %.0f ms for its gradients (%@); the slowest worker computed for %.0f ms",
            step, Double(wait) / 1e6, usual, Double(slowestCompute) / 1e6)))
    }
}
