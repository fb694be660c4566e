import MLP
import Wire

/// A parameter server's range of the run and every decision about it, with no sockets: it keeps
/// the members' slices of the sum until the coordinator commits a step, then adds exactly the
/// slices the commit names (every chunk once), steps the optimizer over the range and says who
/// gets the new weights. The same integers and the same elementwise optimizer as the
/// coordinator's whole vector (`Optimizer.update`), so the weights are the same bits.
public final class ServerRange {
    public let index: Int
    public let first: Int
    public let count: Int
    public let format: FixedPointFormat
    public private(set) var weights: [Float]
    public let optimizer: Optimizer
    /// The step the weights are for: the next one to train.
    public private(set) var step: UInt64
    /// The members the last commit named: who gets the weights.
    public private(set) var members: [UInt32] = []

    /// A member's slice, copied out of its message, kept until its step is committed or gone by.
    private struct Slice {
        var step: UInt64 = 0
        var workerID: UInt32 = 0
        var chunks: [UInt32] = []
        var bytes: [UInt8] = []
        var width = 8
        var inUse = false
    }
    /// Kept from step to step with their buffers: a step allocates nothing here once warm.
    private var slices: [Slice] = []
    private var pending: (step: UInt64, commit: Commit)?
    private var sums: [Int64]
    private var gradient: [Float]
    private var sources: [UnsafeRawPointer?] = []
    private var widths: [Int32] = []
    private var used: [Int] = []
    /// The slices of the range's step already added into `sums` as they came (in that order), so
    /// that a commit naming them finds the total made but for its conversion: the adding is off
    /// the step's path, done while the commit travels.
    private var folded: [Int] = []
    private var order: [Int] = []

    public enum Outcome: Equatable, Sendable {
        /// Kept; nothing more to do yet.
        case waiting
        /// The step is applied: send the new weights (for `step`) to these members.
        case applied(sendTo: [UInt32])
        /// Dropped, saying why (a step gone by, a bound broken).
        case dropped(String)
        /// The run cannot go on from this range.
        case failed(String)
    }

    public init(index: Int, first: Int, weights: [Float], optimizer: Optimizer, format: FixedPointFormat, step: UInt64) {
        self.index = index
        self.first = first
        count = weights.count
        self.weights = weights
        self.optimizer = optimizer
        self.format = format
        self.step = step
        sums = [Int64](repeating: 0, count: weights.count)
        gradient = [Float](repeating: 0, count: weights.count)
    }

    /// A member's slice for step `step`: kept until that step is committed.
    public func receive(_ slice: SliceView, step: UInt64) -> Outcome {
        // A member computes step s only on every range's weights for s: a slice of another step is
        // left over from a step abandoned (a rollback), and a slice is the same bits in any
        // timeline (the same weights and chunks), so the new one is awaited.
        guard step == self.step else { return .dropped("a slice of worker \(slice.workerID) for step \(step) while the range is at step \(self.step)") }
        let bound = UInt64(slice.chunks.count) * FixedPointFormat.chunkBound
        let largest = FixedPointSum.magnitudeBound(slice.sums, width: slice.valueBytes)
        guard largest <= bound else {
            return .dropped("a slice of worker \(slice.workerID) for step \(step) holds a sum of magnitude \(largest), over the \(bound) its \(slice.chunks.count) chunks allow")
        }
        let again = slices.firstIndex { $0.inUse && $0.step == step && $0.workerID == slice.workerID && $0.chunks.elementsEqual(slice.chunks) }
        // The same slice twice (a member asked again): the total is made anew at the commit.
        if let again, folded.contains(again) { folded.removeAll(keepingCapacity: true) }
        let place = again ?? slices.firstIndex { !$0.inUse } ?? { slices.append(Slice()); return slices.count - 1 }()
        slices[place].inUse = true
        slices[place].step = step
        slices[place].workerID = slice.workerID
        slices[place].chunks.removeAll(keepingCapacity: true)
        slices[place].chunks.append(contentsOf: slice.chunks)
        slices[place].bytes.removeAll(keepingCapacity: true)
        slices[place].bytes.append(contentsOf: slice.sums)
        slices[place].width = slice.valueBytes
        if again == nil {
            let first = folded.isEmpty
            slices[place].bytes.withUnsafeBytes { bytes in
                sums.withUnsafeMutableBufferPointer { FixedPointSum.fold(bytes.baseAddress!, width: slice.valueBytes, first: first, into: $0) }
            }
            folded.append(place)
        }
        return tryApply()
    }

    /// The coordinator's word that step `step` is made of `commit.answers`.
    public func receive(_ commit: Commit, step: UInt64) -> Outcome {
        guard step >= self.step else { return .dropped("a commit of step \(step), which is over (the range is at step \(self.step))") }
        guard step == self.step else {
            return .failed("the coordinator committed step \(step) while this range is at step \(self.step): a commit was lost")
        }
        pending = (step, commit)
        return tryApply()
    }

    /// Applies the pending commit once every slice it names is in.
    private func tryApply() -> Outcome {
        guard let (step, commit) = pending else { return .waiting }
        used.removeAll(keepingCapacity: true)
        var covered = ChunkSet()
        for answer in commit.answers {
            guard let place = slices.firstIndex(where: { $0.inUse && $0.step == step && $0.workerID == answer.workerID && $0.chunks == answer.chunks }) else {
                return .waiting
            }
            for chunk in answer.chunks where !covered.insert(chunk) {
                return .failed("the coordinator's commit of step \(step) names chunk \(chunk) twice")
            }
            used.append(place)
        }
        pending = nil
        if commit.sampleCount > 0 && !used.isEmpty {
            total()
            let count = count
            weights.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeBufferPointer { g in
                    optimizer.update(0..<count, parameters: p.baseAddress!, gradientSum: g.baseAddress!,
                                     sampleCount: Int(commit.sampleCount), learningRate: commit.learningRate)
                }
            }
            optimizer.finishStep()
            guard weights.allSatisfy({ $0.isFinite }) else {
                return .failed("a weight of parameters \(first)..<\(first + count) became NaN or infinite at step \(step): training diverged; restart with a lower --lr")
            }
        }
        self.step = commit.nextStep
        folded.removeAll(keepingCapacity: true)
        for index in slices.indices where slices[index].inUse && slices[index].step < commit.nextStep { slices[index].inUse = false }
        members.removeAll(keepingCapacity: true)
        members.append(contentsOf: commit.members)
        return .applied(sendTo: members)
    }

    /// The used slices' exact total, as floats, into `gradient`: those already added as they came
    /// are not added again when every one of them is used (a slice added but not named, an
    /// answer the coordinator voided, makes the total anew).
    private func total() {
        order.removeAll(keepingCapacity: true)
        let reuse = folded.allSatisfy { used.contains($0) }
        if reuse { order.append(contentsOf: folded) }
        for place in used where !reuse || !folded.contains(place) { order.append(place) }
        let alreadyAdded = reuse ? folded.count : 0
        sources.removeAll(keepingCapacity: true)
        widths.removeAll(keepingCapacity: true)
        for place in order {
            sources.append(slices[place].bytes.withUnsafeBytes { $0.baseAddress })
            widths.append(Int32(slices[place].width))
        }
        let format = format
        let all = 0..<count
        // The slices' bytes stay where they are while the total is made: nothing else touches them.
        sources.withUnsafeBufferPointer { sources in
            widths.withUnsafeBufferPointer { widths in
                sums.withUnsafeMutableBufferPointer { sums in
                    gradient.withUnsafeMutableBufferPointer { floats in
                        FixedPointSum.total(of: sources, widths: widths, folded: alreadyAdded, range: all, format: format, sums: sums, into: floats)
                    }
                }
            }
        }
    }

    /// A commit waits for slices: the range's state is not yet its step's.
    public var isApplying: Bool { pending != nil }

    /// The state a checkpoint keeps of the range: the optimizer's step count and its moments over the range.
    public var optimizerState: OptimizerState { optimizer.state }
}
