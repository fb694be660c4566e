import Wire

/// Why the coordinator dropped a message: a value that tests compare and
/// metrics count by `kind`; the sentence for people is derived from it.
public enum DropReason: Equatable, Sendable, CustomStringConvertible {
    /// The bytes broke the protocol (`decode` said why).
    case malformed(String)
    case frameCount(Int)
    case secondHello(worker: UInt32)
    /// A message that only a member may send, from a peer that is not one.
    case fromStranger(MessageType)
    case gradientBeforeTraining(worker: UInt32)
    case staleGradient(worker: UInt32, step: UInt64, current: UInt64)
    case futureGradient(worker: UInt32, step: UInt64, current: UInt64)
    case gradientNotAwaited(worker: UInt32, step: UInt64)
    case wrongSampleCount(worker: UInt32, got: Int, expected: Int)
    /// A fixed-point gradient sum beyond what its chunks can add up to.
    case gradientOutOfBound(worker: UInt32, magnitude: UInt64, bound: UInt64)
    /// A sum packed wider than any value its chunks can add up to needs: a worker packs the fewest bytes.
    case impossibleWidth(worker: UInt32, width: Int, widest: Int, chunks: Int)
    /// More samples right than the answer has.
    case impossibleCorrect(worker: UInt32, correct: Int, samples: Int)
    /// A loss sum no float32 loss of that many samples, that many of them wrong, can give.
    case impossibleLoss(worker: UInt32, lossSum: Double, samples: Int, correct: Int)
    /// Hellos that were refused count as dropped too.
    case refusedHello(RefuseReason)

    /// Stable across releases: the key of the drop counts in logs and metrics.
    public var kind: String {
        switch self {
        case .malformed: "malformed"
        case .frameCount: "frame_count"
        case .secondHello: "second_hello"
        case .fromStranger(let type): "\(type)_from_stranger"
        case .gradientBeforeTraining: "gradient_before_training"
        case .staleGradient: "stale_gradient"
        case .futureGradient: "future_gradient"
        case .gradientNotAwaited: "gradient_not_awaited"
        case .wrongSampleCount: "wrong_sample_count"
        case .gradientOutOfBound: "gradient_out_of_bound"
        case .impossibleWidth: "impossible_width"
        case .impossibleCorrect: "impossible_correct"
        case .impossibleLoss: "impossible_loss"
        case .refusedHello(let reason): "refused_hello_\(reason.kind)"
        }
    }

    public var description: String {
        switch self {
        case .malformed(let detail): detail
        case .frameCount(let count): "a message of \(count) frame\(count == 1 ? "" : "s"), the protocol has \(framesPerMessage)"
        case .secondHello(let worker): "a second hello from worker \(worker)"
        case .fromStranger(let type): "a \(type) message from a peer that is not a worker of this run"
        case .gradientBeforeTraining(let worker): "a gradient from worker \(worker) before training started"
        case let .staleGradient(worker, step, current): "a stale gradient for step \(step) from worker \(worker) at step \(current)"
        case let .futureGradient(worker, step, current): "a gradient for future step \(step) from worker \(worker) at step \(current)"
        case let .gradientNotAwaited(worker, step): "a gradient for step \(step) from worker \(worker), which this step does not wait for"
        case let .wrongSampleCount(worker, got, expected): "a gradient for \(got) samples from worker \(worker), whose step had \(expected)"
        case let .gradientOutOfBound(worker, magnitude, bound): "a gradient from worker \(worker) with a fixed-point value of magnitude \(magnitude), beyond its chunks' bound \(bound)"
        case let .impossibleWidth(worker, width, widest, chunks): "a gradient from worker \(worker) packed \(width) bytes a value, where the sums of \(chunks) chunk\(chunks == 1 ? "" : "s") need at most \(widest)"
        case let .impossibleCorrect(worker, correct, samples): "a gradient from worker \(worker) claiming \(correct) of \(samples) samples right"
        case let .impossibleLoss(worker, lossSum, samples, correct): "a gradient from worker \(worker) with a loss sum of \(lossSum) for \(samples) samples (\(correct) right), which no float32 loss can give"
        case .refusedHello(let reason): "a hello refused: \(reason)"
        }
    }

    /// Whether no honest member could have sent the message: its sender is lost, not just its message dropped.
    public var isImpossibleAnswer: Bool {
        switch self {
        case .wrongSampleCount, .gradientOutOfBound, .impossibleWidth, .impossibleCorrect, .impossibleLoss: true
        default: false
        }
    }
}

/// Why a member stopped taking part.
public enum LossReason: Equatable, Sendable, CustomStringConvertible {
    /// Its gradient did not come within the step's deadline.
    case missedDeadline(step: UInt64, seconds: Double)
    /// Nothing from it, not even a heartbeat, for this long.
    case silent(seconds: Double)
    /// A send found its connection closed.
    case connectionGone
    /// Its send queue is full: it has stopped reading. No send may block the coordinator.
    case notReading
    /// It reported that it cannot go on, and the coordinator's own weights say the run is sound.
    case reportedFailure(String)
    /// It said goodbye.
    case left
    /// It sent an answer no honest member can send (the drop says which).
    case impossibleAnswer(DropReason)
    /// Its answer for `step` differed from the coordinator's recomputation of the same chunks.
    case failedVerification(step: UInt64)

    public var kind: String {
        switch self {
        case .missedDeadline: "deadline"
        case .silent: "silent"
        case .connectionGone: "connection_gone"
        case .notReading: "not_reading"
        case .reportedFailure: "reported_failure"
        case .left: "left"
        case .impossibleAnswer: "impossible_answer"
        case .failedVerification: "failed_verification"
        }
    }

    public var description: String {
        switch self {
        case let .missedDeadline(step, seconds): "no gradient for step \(step) within the \(String(format: "%.1f", seconds)) s deadline"
        case .silent(let seconds): "silent for more than \(String(format: "%.1f", seconds)) s"
        case .connectionGone: "its connection is gone"
        case .notReading: "it stopped reading: its send queue is full"
        case .reportedFailure(let reason): "it reported a failure the coordinator does not share: \(reason)"
        case .left: "left cleanly"
        case .impossibleAnswer(let drop): "it sent \(drop)"
        case .failedVerification(let step): "its answer for step \(step) differs from the coordinator's recomputation of the same chunks"
        }
    }
}

extension RefuseReason {
    /// Stable name for counts.
    public var kind: String {
        switch self {
        case .wrongVersion: "wrong_version"
        case .otherKernels: "other_kernels"
        case .noBF16: "no_bf16"
        case .runFull: "run_full"
        case .notAuthorised: "not_authorised"
        case .duplicateID: "duplicate_id"
        case .otherRun: "other_run"
        case .runFinished: "run_finished"
        case .tryLater: "try_later"
        }
    }
}
