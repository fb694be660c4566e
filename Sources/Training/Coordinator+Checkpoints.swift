import Dataset
import Foundation
import Logging
import MLP
import Wire
import ZMQ

/// Writing checkpoints, and going on from the newest good one.
extension Coordinator {
    func writeCheckpoint() throws {
        guard let store, let assignment else { return }
        let optimizerState = optimizer.state
        let state = CheckpointState(
            training: config, sampleCount: train.count, step: machine.step, epoch: epoch, epochInProgress: epochInProgress, samplesSeen: samplesSeen,
            assignment: assignment, memberIDs: machine.members.map(\.id), nextWorkerID: machine.nextID,
            optimizerStep: optimizerState.step, trainingSeconds: Double(trainingNanoseconds) / 1e9,
            runLossSum: runScore.lossSum + (epochInProgress ? epochScore.lossSum : 0),
            runSamples: runScore.samples + (epochInProgress ? epochScore.samples : 0),
            epochLossSum: epochInProgress ? epochScore.lossSum : 0, epochSamples: epochInProgress ? epochScore.samples : 0)
        let path = try store.write(Checkpoint(state: state, parameters: parameters, moments: optimizerState.moments))
        logger.info("checkpoint at step \(machine.step): \(path)")
        observer?.event("checkpoint", [("step", .int(Int(machine.step))), ("epoch", .int(epoch)), ("path", .string(path))])
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
        guard state.training == config, state.assignment.batchSize == config.batchSize else {
            throw CheckpointError(path: path, reason: "it was written by a run with other training flags; resume with the same flags, or use another --checkpoint folder")
        }
        parameters = checkpoint.parameters
        optimizer.state = OptimizerState(step: state.optimizerStep, moments: checkpoint.moments)
        assignment = state.assignment
        epoch = state.epoch
        epochInProgress = state.epochInProgress
        samplesSeen = state.samplesSeen
        trainingNanoseconds = UInt64(state.trainingSeconds * 1e9)
        epochTrainingBase = trainingNanoseconds
        runScore = BatchScore(lossSum: state.runLossSum - state.epochLossSum, samples: state.runSamples - state.epochSamples)
        epochScore = BatchScore(lossSum: state.epochLossSum, samples: state.epochSamples)
        machine = CoordinatorStateMachine(expectedWorkers: options.workers, maxWorkers: options.maxWorkers,
                                          resumingAt: state.step, memberIDs: state.memberIDs, nextID: state.nextWorkerID)
        logger.info("resumed from \(path): step \(state.step), epoch \(state.epoch)")
        observer?.event("resumed", [("step", .int(Int(state.step))), ("epoch", .int(state.epoch)), ("path", .string(path))])
    }
}
