import Dataset
import Foundation
import Logging
import MLP
import Roles
import Training

/// Writing checkpoints, and going on from the newest good one.
extension Coordinator {
    /// Writes a checkpoint when the run has a folder for them; returns its path.
    @discardableResult
    func writeCheckpoint() throws -> String? {
        guard let store, let point = machine.resumePoint else { return nil }
        perform(machine.heartbeats(now: Self.now()))   // writing can take a while
        try fetchFromServers()
        let optimizerState = optimizer.state
        let state = account.checkpointState(training: config, sampleCount: train.count, resume: point,
                                            optimizerStep: optimizerState.step, divergenceStartLoss: divergence.startLoss)
        let path = try store.write(Checkpoint(state: state, parameters: parameters, moments: optimizerState.moments))
        lastCheckpoint = path
        logger.info("checkpoint at step \(point.step): \(path)")
        observer?.event("checkpoint", [("step", .int(Int(point.step))), ("epoch", .int(state.course.currentEpoch)), ("path", .string(path))])
        return path
    }

    func restoreNewestCheckpoint() throws {
        guard let store else { return }
        let (found, refused) = store.loadNewest()
        for line in refused { logger.warning("\(line); trying the one before") }
        guard let (checkpoint, path) = found else {
            logger.warning("no usable checkpoint in \(store.directory): starting from the beginning")
            return
        }
        let state = checkpoint.state
        if let refusal = checkpoint.refusal(config: config, sampleCount: train.count, path: path) { throw refusal }
        if config.epochs > state.training.epochs {
            logger.info("extending the run from \(state.training.epochs) to \(config.epochs) epochs")
        }
        parameters = checkpoint.parameters
        optimizer.state = OptimizerState(step: state.optimizerStep, moments: checkpoint.moments)
        account = RunAccounting(epochs: config.epochs, samplesPerEpoch: train.count, restoring: state, now: Self.now())
        divergence = DivergenceCheck(startLoss: state.divergenceStartLoss)
        machine = CoordinatorStateMachine(settings: machine.settings, resuming: .init(
            step: state.step, course: state.course, memberIDs: state.memberIDs, nextID: state.nextWorkerID, assignment: state.assignment))
        logger.info("resumed from \(path): step \(state.step), epoch \(state.course.currentEpoch)")
        observer?.event("resumed", [("step", .int(Int(state.step))), ("epoch", .int(state.course.currentEpoch)), ("path", .string(path))])
    }
}
