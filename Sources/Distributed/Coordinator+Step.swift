import Dataset
import Foundation
import MLP
import Roles
import Training
import Wire
import ZMQ

/// One synchronous step, phase by phase: plan, broadcast, await, reduce, update.
extension Coordinator {
    /// Runs the step the machine planned: a chunk of every shard, asked of the shards' holders;
    /// returns its summed score, with where its time went in `stepTimings`, or nil when every member was lost
    /// during it (the same chunks are trained at the next step).
    func runStep() throws -> BatchScore? {
        let learningRate = account.learningRate(config)
        stepTimings = StepTimings()
        stepTimings.steps = 1
        firstGradientArrival = nil

        let broadcastStart = Self.now()
        try broadcast()
        let waitStart = Self.now()
        try awaitGradients()
        // Chosen answers are recomputed before any is used; one that differs rolls the run back.
        if verifyAnswers() { return nil }
        let reduceStart = Self.now()
        guard let score = reduce() else {
            try commitToServers(sampleCount: 0, learningRate: learningRate)
            return nil
        }
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

    /// Sends each request of the step not sent yet its chunks' indices and the weights: one copy
    /// of the weights into libzmq, shared by every request's message. No send waits.
    private func broadcast() throws {
        if requestsSent == 0 { publishSharedWeights() }
        while requestsSent < machine.stepRequests.count {
            let request = machine.stepRequests[requestsSent]
            requestsSent += 1
            guard request.state == .pending else { continue }
            // With parameter servers the step carries no weights (they come from the servers), as from shared memory.
            let shared = sharedMemory.slots[request.member.id] != nil || roster != nil
            // The socket's copy of the weights, made once a step, when a member first takes them from the socket.
            if !shared, stepWeights == nil { stepWeights = try weightsFrame() }
            try encoder.step(runID: runID, step: machine.step, epoch: UInt32(machine.course.currentEpoch), indices: request.indices,
                             chunkSizes: request.chunkSizes, chunks: request.chunkNumbers, parameterCount: stepParameterCount,
                             precision: options.wirePrecision, bulkInSharedMemory: shared)
            if shared, roster == nil, let doorbell = stepRingsDoorbell(of: request.member.id, request: requestsSent - 1) {
                // Straight to the worker's waiting thread, past libzmq's I/O threads.
                switch encoder.withHeaderAndMeta({ doorbell.send(header: $0, meta: $1) }) {
                case .sent:
                    stepTimings.bytes += UInt64(encoder.withHeaderAndMeta { $0.count + $1.count } + weightBytes)
                    continue
                case .full:
                    machine.sendFailed(to: request.member.id, .queueFull)
                    continue
                case .broken:
                    machine.sendFailed(to: request.member.id, .unreachable)
                    continue
                case .tooLarge:
                    break   // a huge batch's indices: the socket carries them
                }
            }
            do {
                let sent = try request.member.peer.withUnsafeBytes { address in
                    try encoder.withHeaderAndMeta { header, meta in
                        // Bytes moved for the member: its bulk is read from shared memory or sent here.
                        stepTimings.bytes += UInt64(address.count + header.count + meta.count + weightBytes)
                        if shared { return try socket.send(address, header, meta, UnsafeRawBufferPointer(start: nil, count: 0), .dontWait) }
                        return try socket.send(address, header, meta, then: stepWeights!, .dontWait)   // made above for every socket member
                    }
                }
                if !sent { machine.sendFailed(to: request.member.id, .queueFull) }
            } catch let error as ZMQError where error.isHostUnreachable {
                machine.sendFailed(to: request.member.id, .unreachable)
            }
        }
    }

    /// Handles messages and time until every answer the step waits for is in, or its members
    /// are lost (the machine's deadline, probes and silence rules decide); a loss asks the lost
    /// member's chunks of others, whose requests go out here.
    private func awaitGradients() throws {
        while !machine.isStepComplete {
            let due = machine.nanosecondsUntilDue(now: Self.now())
            try pump(timeoutMilliseconds: Int(min(due, Liveness.probeInterval) / 1_000_000) + 1)
            try broadcast()
        }
    }

    /// Scores the step's answers and has the reducer total their exact sums into floats
    /// (`reducer.gradientSum`); nil when the step was abandoned.
    private func reduce() -> BatchScore? {
        var score = BatchScore()
        var slowest: UInt64 = 0, fastest = UInt64.max
        for answer in reducer.answers {
            score += BatchScore(lossSum: answer.view.lossSum, correct: Int(answer.view.correct), samples: Int(answer.view.sampleCount))
            slowest = max(slowest, answer.view.computeNanoseconds)
            epochWorkers.record(answer.member.id, host: answer.member.host, computeNanoseconds: answer.view.computeNanoseconds,
                                samples: Int(answer.view.sampleCount))
            fastest = min(fastest, answer.view.computeNanoseconds)
        }
        let abandoned = machine.stepAbandoned
        noteCommittedAnswers()
        machine.completeStep()
        reducer.finish(abandoned: abandoned, recycle: { spareMessages.append($0) })
        requestsSent = 0
        stepWeights = nil
        stepTimings.slowestComputeNanoseconds = slowest
        stepTimings.fastestComputeNanoseconds = fastest == .max ? 0 : fastest
        return abandoned ? nil : score
    }

    /// Steps the optimizer with the summed gradient over the step's true sample count.
    private func applyUpdate(score: BatchScore, learningRate: Float) throws {
        guard score.lossSum.isFinite else {
            throw TrainingError.lossNotFinite(epoch: machine.course.currentEpoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
        }
        if roster != nil {
            // The servers step the optimizer, each over its range; their weights are checked there.
            return try commitToServers(sampleCount: score.samples, learningRate: learningRate)
        }
        if score.samples > 0 {
            if let maxNorm = config.clipNorm { reducer.clip(sampleCount: score.samples, maxNorm: maxNorm) }
            parameters.withUnsafeMutableBufferPointer { p in
                reducer.gradientSum.withUnsafeBufferPointer { g in
                    optimizer.step(parameters: p, gradientSum: g, sampleCount: score.samples, learningRate: learningRate)
                }
            }
        }
        // Finite gradients can still add up to infinity, or a step overflow the weights: stop here, not on the workers.
        guard parameters.withUnsafeBufferPointer(allFinite) else {
            throw TrainingError.lossNotFinite(epoch: machine.course.currentEpoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
        }
    }

    /// The coordinator's own computation of `member`'s chunks in flight: the error when it
    /// diverges too (a loss that is not finite, or a gradient beyond the fixed-point range). A
    /// member's report that training diverged is believed only if the coordinator sees the same.
    func ownDivergence(onChunksOf member: CoordinatorStateMachine.Member) -> TrainingError? {
        guard let assignment = machine.assignment else { return nil }
        let chunks = ChunkedGradient(spec: config.model, largestChunk: assignment.plan.largestChunk, format: assignment.plan.fixedPointFormat(for: options.wirePrecision),
                                     compute: config.computePrecision)
        chunks.augmentation = config.augmentation(epoch: machine.course.currentEpoch)
        chunks.dropout = config.dropout(epoch: machine.course.currentEpoch)
        for request in machine.stepRequests where request.member.id == member.id && request.state == .pending {
            for shard in request.shards {
                let globals = assignment.chunkSamples(shard: shard, step: machine.course.stepsDone)
                let score = globals.withUnsafeBufferPointer { indices in
                    parameters.withUnsafeBufferPointer { chunks.add(indices, of: train, parameters: $0.baseAddress!) }
                }
                if score == nil {
                    return chunks.divergence(epoch: machine.course.currentEpoch, step: Int(machine.step), learningRate: config.optimizer.learningRate)
                }
            }
        }
        return nil
    }
}
