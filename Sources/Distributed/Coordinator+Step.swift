import Dataset
import Foundation
import MLP
import Roles
import Training
import Wire
import ZMQ

/// One synchronous step, phase by phase: plan, broadcast, await, reduce, update.
extension Coordinator {
    /// Runs one step over every member with samples left; returns its summed score, with
    /// where its time went in `stepTimings`.
    func runStep() throws -> BatchScore {
        let learningRate = account.learningRate(config.optimizer)
        stepTimings = StepTimings()
        stepTimings.steps = 1
        firstGradientArrival = nil

        let broadcastStart = Self.now()
        machine.planStep(now: broadcastStart)
        try broadcast()
        let waitStart = Self.now()
        try awaitGradients()
        let reduceStart = Self.now()
        let score = reduce()
        let updateStart = Self.now()
        try applyUpdate(score: score, learningRate: learningRate)
        let end = Self.now()

        stepTimings.broadcastNanoseconds = waitStart - broadcastStart
        stepTimings.waitNanoseconds = reduceStart - waitStart
        // A gradient can arrive while the broadcast is still going out.
        stepTimings.firstGradientNanoseconds = max(firstGradientArrival ?? reduceStart, waitStart) - waitStart
        stepTimings.reduceNanoseconds = updateStart - reduceStart
        stepTimings.updateNanoseconds = end - updateStart
        logIfSlow(step: machine.step, wait: stepTimings.waitNanoseconds, slowestCompute: stepTimings.slowestComputeNanoseconds,
                  earlierSteps: account.epochTimings)
        return score
    }

    /// Sends each member of the step its batch's indices and the weights: one copy of the
    /// weights into libzmq, shared by every member's message. No send waits.
    private func broadcast() throws {
        publishSharedWeights()
        // The socket's copy of the weights, made only when a member takes them from the socket.
        let weights = try machine.stepBatches.contains { sharedMemory.slots[$0.member.id] == nil } ? weightsFrame() : nil
        for (member, indices) in machine.stepBatches {
            let shared = sharedMemory.slots[member.id] != nil
            try encoder.step(runID: runID, step: machine.step, epoch: UInt32(account.epoch), indices: indices, parameterCount: parameters.count,
                             precision: options.wirePrecision, bulkInSharedMemory: shared)
            do {
                let sent = try member.peer.withUnsafeBytes { address in
                    try encoder.withHeaderAndMeta { header, meta in
                        // Bytes moved for the member: its bulk is read from shared memory or sent here.
                        stepTimings.bytes += UInt64(address.count + header.count + meta.count + bulkBytes)
                        if shared { return try socket.send(address, header, meta, UnsafeRawBufferPointer(start: nil, count: 0), .dontWait) }
                        return try socket.send(address, header, meta, then: weights!, .dontWait)   // made above for every socket member
                    }
                }
                if !sent { machine.sendFailed(to: member.id, .queueFull) }
            } catch let error as ZMQError where error.isHostUnreachable {
                machine.sendFailed(to: member.id, .unreachable)
            }
        }
    }

    /// Handles messages and time until every gradient the step waits for is in, or its
    /// members are lost (the machine's deadline, probes and silence rules decide).
    private func awaitGradients() throws {
        while !machine.isStepComplete {
            let due = machine.nanosecondsUntilDue(now: Self.now())
            try pump(timeoutMilliseconds: Int(min(due, Liveness.probeInterval) / 1_000_000) + 1)
        }
    }

    /// Adds the gradients in worker-id order, the same order every run, into `gradientSum`.
    private func reduce() -> BatchScore {
        var score = BatchScore()
        var slowest: UInt64 = 0, fastest = UInt64.max
        var first = true
        gradientSum.withUnsafeMutableBufferPointer { sum in
            for member in machine.members {   // in id order
                guard let view = gradients[member.id]?.view else { continue }
                if first { view.gradient.copy(into: sum) } else { view.gradient.add(into: sum) }
                first = false
                score += BatchScore(lossSum: view.lossSum, correct: Int(view.correct), samples: Int(view.sampleCount))
                slowest = max(slowest, view.computeNanoseconds)
                epochWorkers.record(member.id, host: member.host, computeNanoseconds: view.computeNanoseconds, samples: Int(view.sampleCount))
                fastest = min(fastest, view.computeNanoseconds)
            }
        }
        machine.completeStep()
        for received in gradients.values { spareMessages.append(received.message) }
        gradients.removeAll(keepingCapacity: true)
        stepTimings.slowestComputeNanoseconds = slowest
        stepTimings.fastestComputeNanoseconds = fastest == .max ? 0 : fastest
        return score
    }

    /// Steps the optimizer with the summed gradient over the step's true sample count.
    private func applyUpdate(score: BatchScore, learningRate: Float) throws {
        guard score.lossSum.isFinite else {
            throw TrainingError.lossNotFinite(epoch: account.epoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
        }
        if score.samples > 0 {
            parameters.withUnsafeMutableBufferPointer { p in
                gradientSum.withUnsafeBufferPointer { g in
                    optimizer.step(parameters: p, gradientSum: g, sampleCount: score.samples, learningRate: learningRate)
                }
            }
        }
        // Finite gradients can still add up to infinity, or a step overflow the weights: stop here, not on the workers.
        guard parameters.withUnsafeBufferPointer(allFinite) else {
            throw TrainingError.lossNotFinite(epoch: account.epoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
        }
    }

    /// The coordinator's own loss over `member`'s batch in flight: a member's report that the
    /// loss diverged is believed only if the coordinator sees the same.
    func ownLossIsFinite(onBatchOf member: CoordinatorStateMachine.Member) -> Bool {
        guard let batch = machine.stepBatches.first(where: { $0.member.id == member.id }),
              let holder = machine.assignment?.holders.first(where: { $0.id == member.id }) else { return true }
        let globals = batch.indices.map { holder.stored[Int($0)] }
        let workspace = Workspace(spec: config.model, capacity: globals.count)
        var labels = [UInt8](repeating: 0, count: globals.count)
        labels.withUnsafeMutableBufferPointer { train.gather(globals[...], inputs: workspace.input, labels: $0.baseAddress!) }
        var gradient = [Float](repeating: 0, count: parameters.count)
        return workspace.gradient(parameters: parameters, labels: labels, rows: globals.count, into: &gradient).lossSum.isFinite
    }
}
