import Dataset
import MLP
import Teams

/// A step's gradient as the exact sum of its chunks' gradients: each chunk's forward and
/// backward pass runs alone (the same sgemm shapes on the same inputs, whatever else the
/// process computes), and its float gradient is rounded once into the fixed-point sum.
/// Every trainer (the single process, each worker, the coordinator's own check) computes
/// chunks here, so a chunk's bits do not depend on who computes it.
///
/// With `threads` above 1 the step's chunks are shared among as many threads, each with its
/// own passes and its own sum; the sums are then added exactly into one, in ranges over the
/// same threads. Integers add the same in any grouping: the sum, and so the weights, are the
/// same bits for any thread count.
public final class ChunkedGradient {
    /// The largest chunk this computes.
    public let capacity: Int
    /// Threads that compute a step's chunks, the calling one included.
    public var threads: Int { team.threads }
    /// The exact sum of the chunks added since the last `reset()`; zeros when none was. Not
    /// after `addChunks(…, combine: false)`, which leaves it in the threads' parts.
    public var sum: FixedPointSum {
        precondition(partsApart <= 1, "the step's sum is still in its threads' parts: read it with floats(into:then:)")
        return added ? storage : zeros
    }
    /// Lanes whose sums `addChunks(…, combine: false)` left apart (lane 0's in `storage`); 0 or 1 when none.
    private var partsApart = 0
    private var storage: FixedPointSum
    private let zeros: FixedPointSum
    /// Whether a chunk was added since the reset. The first one writes `storage` rather than
    /// adding to it, so a reset costs no pass over the sums: until then `storage` holds the
    /// last step's, and `sum` is `zeros`.
    private var added = false
    /// One per thread; lane 0 is the calling thread's and adds into `storage` itself.
    private let lanes: [ChunkLane]
    private let team: ThreadTeam
    // Room for one step's bookkeeping, allocated once: where each chunk starts among the step's
    // rows, each chunk's score (added up in chunk order, whoever computed it), and the other
    // lanes' sums and sign bits for the final addition.
    private let chunkStarts: UnsafeMutableBufferPointer<Int>
    private let chunkScores: UnsafeMutableBufferPointer<BatchScore>
    private let laneSums: UnsafeMutableBufferPointer<UnsafePointer<Int64>?>
    private let rangeBits: UnsafeMutableBufferPointer<UInt64>

    /// With `compute` bf16 the caller has checked `BF16Support`: oneDNN then makes its products.
    public init(spec: ModelSpec, largestChunk: Int, format: FixedPointFormat, compute: ComputePrecision = .float32, threads: Int = 1) {
        precondition(threads >= 1)
        capacity = largestChunk
        storage = FixedPointSum(format: format, count: spec.parameterCount)
        zeros = storage
        lanes = (0..<threads).map { ChunkLane(spec: spec, largestChunk: largestChunk, compute: compute, ownSums: $0 > 0) }
        team = ThreadTeam(threads: threads, name: "dptrain-chunks")
        chunkStarts = .allocate(capacity: FixedPointFormat.maxChunks)
        chunkScores = .allocate(capacity: FixedPointFormat.maxChunks)
        chunkScores.initialize(repeating: BatchScore())
        laneSums = .allocate(capacity: threads)
        laneSums.initialize(repeating: nil)
        rangeBits = .allocate(capacity: threads)
        rangeBits.initialize(repeating: 0)
    }

    deinit {
        team.stop()
        chunkStarts.deallocate()
        chunkScores.deallocate()
        laneSums.deallocate()
        rangeBits.deallocate()
    }

    /// Whether the last chunk that failed had a gradient beyond the fixed-point range (rather
    /// than a loss that is not finite).
    public private(set) var lastFailureWasRange = false

    /// The distortion of the training images of the epoch under way (`--augment`), applied by
    /// each lane to the rows it gathers; nil: none. The trainer sets it as epochs begin.
    public var augmentation: Augmentation? {
        didSet { for lane in lanes { lane.augmentation = augmentation } }
    }

    /// The dropout of the epoch under way (`--dropout`), drawn by each lane for the rows it
    /// gathers; nil: none. The trainer sets it as epochs begin.
    public var dropout: DropoutDraw? {
        didSet { for lane in lanes { lane.dropoutDraw = dropout } }
    }

    public func reset() {
        added = false
        partsApart = 0
        for lane in lanes { lane.weightsLoaded = false }
    }

    /// The error for a chunk that failed at `step` of `epoch`, at base rate `learningRate`.
    public func divergence(epoch: Int, step: Int, learningRate: Float) -> TrainingError {
        lastFailureWasRange
            ? .gradientOutOfRange(epoch: epoch, step: step, bound: storage.format.chunkLimitValue, learningRate: learningRate)
            : .lossNotFinite(epoch: epoch, step: step, learningRate: learningRate)
    }

    /// Adds the gradient of `data`'s samples at `indices`, computed alone on this thread. Returns
    /// the chunk's score, or nil when its gradient is beyond the fixed-point range or not finite
    /// (diverged). Every chunk of a step takes the same `parameters`.
    public func add(_ indices: UnsafeBufferPointer<Int32>, of data: LabeledImages, parameters: UnsafePointer<Float>) -> BatchScore? {
        precondition(indices.count > 0 && indices.count <= capacity)
        let lane = lanes[0], replacing = !added, format = storage.format
        let score = storage.withValues { sums in
            let score = lane.add(indices, of: data, parameters: parameters, format: format, into: sums, replacing: replacing)
            return (score, lane.signBits)
        }
        added = true
        if score == nil { lastFailureWasRange = lane.failedOnRange }
        return score
    }

    /// Adds a step's chunks, shared among the threads: chunk i is the next `sizes[i]` of `rows`
    /// (indices into `data`). Returns the step's score (the chunks' added in chunk order), or nil
    /// when a chunk diverged. `combine` false leaves the threads' sums apart, for a process that
    /// needs the step's floats alone (`floats(into:then:)` adds them as it converts: one pass
    /// over the parameters fewer); `sum` is then not to be read.
    public func addChunks(_ rows: UnsafeBufferPointer<Int32>, sizes: UnsafeBufferPointer<Int>, of data: LabeledImages,
                          parameters: UnsafePointer<Float>, combine: Bool = true) -> BatchScore? {
        precondition(partsApart <= 1, "a step's chunks are added by one addChunks")
        let count = sizes.count
        precondition(count <= chunkStarts.count, "a step of \(count) chunks, beyond \(chunkStarts.count)")
        var start = 0
        for chunk in 0..<count {
            precondition(sizes[chunk] > 0 && sizes[chunk] <= capacity)
            chunkStarts[chunk] = start
            start += sizes[chunk]
        }
        precondition(start <= rows.count)
        let parts = min(threads, count)
        guard parts > 1 else {
            var score = BatchScore()
            for chunk in 0..<count {
                guard let chunkScore = add(UnsafeBufferPointer(rebasing: rows[chunkStarts[chunk]..<(chunkStarts[chunk] + sizes[chunk])]),
                                           of: data, parameters: parameters) else { return nil }
                score += chunkScore
            }
            return score
        }
        let replacingFirst = !added, format = storage.format
        let lanes = lanes, chunkStarts = chunkStarts, chunkScores = chunkScores, laneSums = laneSums, rangeBits = rangeBits
        let team = team, parameterCount = storage.values.count
        let diverged: ChunkLane? = storage.withValues { total in
            team.run(parts: parts) { part in
                let lane = lanes[part]
                lane.failed = false
                var replacing = part == 0 ? replacingFirst : true
                for chunk in ThreadTeam.share(part, of: parts, count: count) {
                    let indices = UnsafeBufferPointer(rebasing: rows[chunkStarts[chunk]..<(chunkStarts[chunk] + sizes[chunk])])
                    guard let score = lane.add(indices, of: data, parameters: parameters, format: format,
                                               into: part == 0 ? total : lane.ownSums!, replacing: replacing) else {
                        lane.failed = true
                        return
                    }
                    chunkScores[chunk] = score
                    replacing = false
                }
            }
            if let failed = lanes[0..<parts].first(where: \.failed) { return (failed, 0) }
            guard combine else { return (nil, 0) }
            // Every lane's sum into lane 0's, each thread a range of the parameters.
            for part in 1..<parts { laneSums[part - 1] = UnsafePointer(lanes[part].ownSums!) }
            let sources = UnsafeBufferPointer(rebasing: laneSums[0..<(parts - 1)])
            team.run(parts: team.threads) { part in
                rangeBits[part] = FixedPointSum.add(sources, into: total, range: ThreadTeam.range(part, of: team.threads, count: parameterCount))
            }
            return (nil, rangeBits.reduce(0, |))
        }
        added = true
        if let diverged {
            lastFailureWasRange = diverged.failedOnRange
            return nil
        }
        if !combine { partsApart = parts }
        var score = BatchScore()
        for chunk in 0..<count { score += chunkScores[chunk] }
        return score
    }

    /// The step's exact sum as floats into `floats` (the threads' sums added as they are read when
    /// `addChunks` left them apart), each thread converting a range and then calling `then` with
    /// it (the optimizer's update of that range): one pass over the parameters, shared.
    public func floats(into floats: UnsafeMutableBufferPointer<Float>, then: (Range<Int>) -> Void) {
        precondition(floats.count == storage.values.count)
        let parts = partsApart
        guard parts > 1 else {
            let sum = added ? storage : zeros
            return split(count: floats.count) { range in
                sum.floats(into: floats, range: range)
                then(range)
            }
        }
        let format = storage.format, laneSums = laneSums, lanes = lanes
        storage.values.withUnsafeBufferPointer { first in
            laneSums[0] = first.baseAddress
            for part in 1..<parts { laneSums[part] = UnsafePointer(lanes[part].ownSums!) }
            let sources = UnsafeBufferPointer(rebasing: laneSums[0..<parts])
            split(count: floats.count) { range in
                FixedPointSum.floats(of: sources, format: format, into: floats, range: range)
                then(range)
            }
        }
    }

    /// Calls `body` for each of the threads' ranges of 0..<count (`ThreadTeam.range`), one range a
    /// thread, and returns when all are done: a pass over the parameters (the sum into floats, the
    /// optimizer's update) shared as the step's chunks were.
    public func split(count: Int, _ body: (Range<Int>) -> Void) {
        let parts = threads
        guard parts > 1 else { return body(0..<count) }
        team.run(parts: parts) { body(ThreadTeam.range($0, of: parts, count: count)) }
    }
}

/// One thread's passes over its chunks: its own workspace, float gradient, labels and (but the
/// calling thread's) fixed-point sum. Only its thread touches it during a pass.
final class ChunkLane {
    /// The passes of one chunk, in the run's compute precision.
    private enum Passes {
        case float32(Workspace)
        case bf16(BF16Workspace)
    }
    private let passes: Passes
    /// One chunk's float gradient (P) and labels (largest chunk).
    private var chunkGradient: [Float]
    private var labels: [UInt8]
    /// The epoch's distortion of the gathered images, and its room (`Augmentation.scratchCount`).
    var augmentation: Augmentation? {
        didSet { if let augmentation, augmentScratch.count < augmentation.scratchCount { augmentScratch = [Float](repeating: 0, count: augmentation.scratchCount) } }
    }
    private var augmentScratch: [Float] = []
    /// The epoch's dropout draw; the workspace's masks are made with the first.
    var dropoutDraw: DropoutDraw? {
        didSet {
            if dropoutDraw != nil, case .float32(let workspace) = passes, workspace.dropout == nil {
                workspace.dropout = DropoutMasks(spec: workspace.spec, capacity: workspace.capacity)
            }
        }
    }
    /// This lane's sum, P int64s; nil for lane 0, which adds into the total itself.
    let ownSums: UnsafeMutablePointer<Int64>?
    /// Set by `add`: the sign bits of the sums it left.
    private(set) var signBits: UInt64 = 0
    /// Whether the last chunk that failed had a gradient beyond the fixed-point range.
    private(set) var failedOnRange = false
    /// Whether a chunk of this pass failed.
    var failed = false
    /// In bf16, whether this step's weights are rounded into this lane's workspace.
    var weightsLoaded = false

    init(spec: ModelSpec, largestChunk: Int, compute: ComputePrecision, ownSums: Bool) {
        switch compute {
        case .float32:
            passes = .float32(Workspace(spec: spec, capacity: largestChunk))
        case .bf16:
            do {
                passes = .bf16(try BF16Workspace(spec: spec, capacity: largestChunk))
            } catch {
                preconditionFailure("bf16 products for \(spec.summary), chunks of \(largestChunk): \(error)")
            }
        }
        chunkGradient = [Float](repeating: 0, count: spec.parameterCount)
        labels = [UInt8](repeating: 0, count: largestChunk)
        if ownSums {
            let sums = UnsafeMutablePointer<Int64>.allocate(capacity: spec.parameterCount)
            sums.initialize(repeating: 0, count: spec.parameterCount)
            self.ownSums = sums
        } else {
            self.ownSums = nil
        }
    }

    deinit { ownSums?.deallocate() }

    /// The gradient of `data`'s samples at `indices`, computed alone, rounded into `sums` (or,
    /// `replacing`, written there in their place). The chunk's score, or nil when it diverged.
    func add(_ indices: UnsafeBufferPointer<Int32>, of data: LabeledImages, parameters: UnsafePointer<Float>, format: FixedPointFormat,
             into sums: UnsafeMutablePointer<Int64>, replacing: Bool) -> BatchScore? {
        let rows = indices.count
        let score = labels.withUnsafeMutableBufferPointer { labels in
            chunkGradient.withUnsafeMutableBufferPointer { gradient in
                switch passes {
                case .float32(let workspace):
                    data.gather(indices, inputs: workspace.input, labels: labels.baseAddress!)
                    if let dropoutDraw, let masks = workspace.dropout {
                        masks.draw(dropoutDraw, images: workspace.input, features: workspace.spec.inputSize, rows: rows)
                    }
                    if let augmentation {
                        augmentScratch.withUnsafeMutableBufferPointer { augmentation.apply(workspace.input, rows: rows, scratch: $0.baseAddress!) }
                    }
                    return workspace.gradient(parameters: parameters, labels: labels.baseAddress!, rows: rows, into: gradient.baseAddress!)
                case .bf16(let workspace):
                    if !weightsLoaded { workspace.loadWeights(parameters) }
                    weightsLoaded = true
                    data.gatherPixels(indices, into: workspace.input, labels: labels.baseAddress!)
                    return workspace.gradient(parameters: parameters, labels: labels.baseAddress!, rows: rows, into: gradient.baseAddress!)
                }
            }
        }
        let inRange = chunkGradient.withUnsafeBufferPointer {
            FixedPointSum.accumulate(chunk: $0, format: format, into: sums, replacing: replacing, signBits: &signBits)
        }
        guard inRange && score.lossSum.isFinite else {
            failedOnRange = score.lossSum.isFinite
            return nil
        }
        return score
    }
}
