import Dataset
import Foundation
import Logging
import MLP
import Roles
import Training
import Wire

/// The run's state as it stood after a step, kept in memory so that verification can undo the
/// answers of a member it expels: the weights, the optimizer's state, the account (whose samples
/// seen place the learning-rate schedule) and the divergence check's window.
struct RunSnapshot {
    let parameters: [Float]
    let optimizer: OptimizerState
    let account: RunAccounting
    let divergence: DivergenceCheck
}

/// What the coordinator recomputes answers with: its own chunk passes (made at the first check),
/// room to widen an answer's sums, and the draws members cannot predict.
final class AnswerVerifier {
    var chunks: ChunkedGradient?
    var scratch: [Int64] = []
    /// A bf16 run's weights as its workers compute on them, and their encoded bytes.
    var wireWeights: [Float] = []
    var wireBytes: [UInt8] = []
    /// The operating system's generator (getrandom): nothing a member sees tells it which answer is next.
    var generator = SystemRandomNumberGenerator()
}

/// Verification by recomputation, as `CoordinatorStateMachine+Verification.swift` decides it:
/// once every answer of a step is in and before any is used, the chosen ones are recomputed here
/// from the same chunks and the same weights and compared bit for bit.
extension Coordinator {
    /// Checks the step's chosen answers; true when one failed and the run was rolled back (the
    /// step is abandoned: nothing of it is used).
    func verifyAnswers() -> Bool {
        guard machine.settings.verifyFraction > 0 else { return false }
        var lossSum = 0.0, samples = 0
        for answer in reducer.answers {
            lossSum += answer.view.lossSum
            samples += Int(answer.view.sampleCount)
        }
        let diverging = divergence.wouldStop(lossSum: lossSum, samples: samples)
        let chosen = machine.answersToVerify(using: &verifier.generator, diverging: diverging)
        for request in chosen {
            guard let answer = reducer.answers.first(where: { $0.request == request }) else { continue }
            answersVerified += 1
            if recomputes(answer) { continue }
            let from = machine.step
            perform(machine.verificationFailed(request: request, now: Self.now()))
            reducer.finish(abandoned: true, recycle: { spareMessages.append($0) })
            requestsSent = 0
            stepWeights = nil
            logger.warning("rolled back from step \(from) to step \(machine.step): the steps since are trained again without worker \(answer.member.id)")
            observer?.event("rolled_back", [("from_step", .int(Int(from))), ("to_step", .int(Int(machine.step))), ("worker", .int(Int(answer.member.id)))])
            return true
        }
        return false
    }

    /// Whether `answer` is what the coordinator computes for its request's chunks: the same
    /// fixed-point integers, sample count, correct count and loss sum, to the bit.
    private func recomputes(_ answer: StepReducer.Answer) -> Bool {
        guard let assignment = machine.assignment else { return false }
        let request = machine.stepRequests[answer.request]
        if verifier.chunks == nil {
            verifier.chunks = ChunkedGradient(spec: config.model, largestChunk: assignment.plan.largestChunk,
                                              format: assignment.plan.fixedPointFormat(for: options.wirePrecision), compute: config.computePrecision)
            verifier.scratch = [Int64](repeating: 0, count: parameters.count)
        }
        let chunks = verifier.chunks!
        chunks.reset()
        // The epoch's draws, as the workers make them (`--augment`, `--dropout`).
        let epoch = machine.course.currentEpoch
        if chunks.augmentation?.epoch != epoch { chunks.augmentation = config.augmentation(epoch: epoch) }
        if chunks.dropout?.epoch != epoch { chunks.dropout = config.dropout(epoch: epoch) }
        var score = BatchScore()
        let computed = withWeightsAsWorkersHaveThem { weights -> Bool in
            for shard in request.shards {
                let globals = assignment.chunkSamples(shard: shard, step: machine.course.stepsDone)
                guard let chunkScore = globals.withUnsafeBufferPointer({ chunks.add($0, of: train, parameters: weights) }) else { return false }
                score += chunkScore
            }
            return true
        }
        // A chunk that diverges here was answered as if it had not: an honest worker reports it instead.
        guard computed else { return false }
        let view = answer.view
        guard score.samples == Int(view.sampleCount), score.correct == Int(view.correct),
              score.lossSum.bitPattern == view.lossSum.bitPattern else { return false }
        return verifier.scratch.withUnsafeMutableBufferPointer { chunks.sum.equals(packed: view.sums, width: view.valueBytes, scratch: $0) }
    }

    /// The step's weights as the workers compute on them: the coordinator's own in a float32 run,
    /// rounded to bf16 and back in a bf16 one.
    private func withWeightsAsWorkersHaveThem<Result>(_ body: (UnsafePointer<Float>) -> Result) -> Result {
        guard options.wirePrecision != .float32 else { return parameters.withUnsafeBufferPointer { body($0.baseAddress!) } }
        if verifier.wireWeights.count != parameters.count {
            verifier.wireWeights = [Float](repeating: 0, count: parameters.count)
            verifier.wireBytes = [UInt8](repeating: 0, count: parameters.count * options.wirePrecision.bytesPerValue)
        }
        parameters.withUnsafeBufferPointer { weights in
            verifier.wireBytes.withUnsafeMutableBytes { bytes in
                verifier.wireWeights.withUnsafeMutableBufferPointer { options.wirePrecision.roundTrip(weights, scratch: bytes, into: $0) }
            }
        }
        return verifier.wireWeights.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// Keeps the run's state after `step` steps (the weights are shared with `parameters` until
    /// the next update writes them: one copy then).
    func keepSnapshot(step: UInt64) {
        snapshots[step] = RunSnapshot(parameters: parameters, optimizer: optimizer.state, account: account, divergence: divergence)
    }

    /// Goes back to the state after `step` steps, from its snapshot; with none, the state in hand
    /// is already that (the abandoned step was the next), and nothing changes.
    func rollBack(toStep step: UInt64) {
        for kept in snapshots.keys where kept > step { snapshots[kept] = nil }
        guard let snapshot = snapshots[step] else { return }
        parameters = snapshot.parameters
        optimizer.state = snapshot.optimizer
        account = snapshot.account
        divergence = snapshot.divergence
    }
}
