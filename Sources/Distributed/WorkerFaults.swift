import Foundation
import MLP
import Wire

/// Faults put into a worker on purpose, for tests of what the coordinator and the logs do with a
/// slow or lossy member: one value, passed in; `none` in production.
public struct WorkerFaults {
    /// Seconds added to each step's compute (a straggler).
    public var stepDelay: Double = 0
    /// Drops an incoming message of a type when it returns true (a lossy link).
    public var dropIncoming: ((MessageType) -> Bool)?
    /// Called with the step's number once its gradient is computed and before it is sent: a test
    /// holds a worker's answer here until something else has happened.
    public var beforeAnswer: ((UInt64) -> Void)?
    /// Rewrites the step's answer (the step's number, its exact sum, its score) before it leaves:
    /// a lying member, or a core that miscomputes.
    public var lie: ((UInt64, inout FixedPointSum, inout BatchScore) -> Void)?

    public init(stepDelay: Double = 0, dropIncoming: ((MessageType) -> Bool)? = nil, beforeAnswer: ((UInt64) -> Void)? = nil) {
        self.stepDelay = stepDelay
        self.dropIncoming = dropIncoming
        self.beforeAnswer = beforeAnswer
    }

    public static let none = WorkerFaults()

    /// Variables a process test sets to make a real worker process faulty.
    public static let stepDelayVariable = "DPTRAIN_TEST_STEP_DELAY_MS"
    public static let dropShutdownVariable = "DPTRAIN_TEST_DROP_SHUTDOWN"
    public static let lieVariable = "DPTRAIN_TEST_LIE"

    /// The faults the environment asks for: `DPTRAIN_TEST_STEP_DELAY_MS=N` slows each step by N ms;
    /// `DPTRAIN_TEST_DROP_SHUTDOWN=P` drops each shutdown message with probability P, drawn from `seed`;
    /// `DPTRAIN_TEST_LIE=KIND[@N]` rewrites every answer (from the N-th) as `WorkerLie` says (`scale:-10`, `flip-bit:1/1000`, ...).
    public static func fromEnvironment(_ environment: [String: String], seed: UInt64) -> WorkerFaults {
        var faults = WorkerFaults()
        if let delay = environment[stepDelayVariable].flatMap(Double.init), delay > 0 { faults.stepDelay = delay / 1000 }
        if let probability = environment[dropShutdownVariable].flatMap(Double.init) {
            var generator = SeededGenerator(seed: seed)
            faults.dropIncoming = { type in type == .shutdown && Double(generator.nextUnitFloat()) < probability }
        }
        if let lie = environment[lieVariable].flatMap(WorkerLie.parse) { faults.lie = lie.lie.rewriter(seed: seed, fromAnswer: lie.fromAnswer) }
        return faults
    }
}
