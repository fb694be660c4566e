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
        guard state.sampleCount == train.count else {
            throw CheckpointError(path: path, reason: "it was written for \(state.sampleCount) training samples and this data has \(train.count); resume with the same --data")
        }
        // Every flag must match, except that --epochs may be raised to extend a run.
        var sameButEpochs = config
        sameButEpochs.epochs = state.training.epochs
        let differences = sameButEpochs.differences(from: state.training)
        guard differences.isEmpty, config.epochs >= state.training.epochs else {
            let named = differences.isEmpty ? ["--epochs \(config.epochs) (the checkpoint has \(state.training.epochs); a run can be extended, not shortened)"] : differences
            throw CheckpointError(path: path, reason: "it was written with other flags: \(named.joined(separator: ", ")); resume with the checkpoint's flags, or use another --checkpoint folder")
        }
        let plan = state.assignment.plan
        guard plan.batchSize == config.batchSize, plan.shardCount == config.shardCount, plan.seed == config.seed else {
            throw CheckpointError(path: path, reason: "its shards (\(plan.shardCount) of a batch of \(plan.batchSize), seed \(plan.seed)) are not this run's; use another --checkpoint folder")
        }
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
