import Foundation
import MLP

/// What a member's answer to a step claims, as the coordinator reads it before a single value is
/// used: its samples, its loss and correct counts, and the width and bound of its fixed-point sums.
public struct AnswerFigures: Equatable, Sendable {
    public var sampleCount: Int
    public var lossSum: Double
    public var correct: Int
    /// Bytes per value of its packed sums (1 to 8).
    public var valueBytes: Int
    /// An upper bound on the magnitude of its fixed-point values.
    public var largestMagnitude: UInt64

    public init(sampleCount: Int, lossSum: Double, correct: Int, valueBytes: Int, largestMagnitude: UInt64) {
        self.sampleCount = sampleCount
        self.lossSum = lossSum
        self.correct = correct
        self.valueBytes = valueBytes
        self.largestMagnitude = largestMagnitude
    }

    /// Why no honest member could have sent these figures for a request of `expectedSamples`
    /// samples in `chunks` chunks of a model scored with `loss` over `classCount` classes; nil
    /// when they are possible. Only what the arithmetic rules out: a plausible lie passes here and
    /// is left to verification by recomputation.
    func impossibility(worker: UInt32, expectedSamples: Int, chunks: Int, loss: Loss, classCount: Int) -> DropReason? {
        if sampleCount != expectedSamples { return .wrongSampleCount(worker: worker, got: sampleCount, expected: expectedSamples) }
        let bound = UInt64(chunks) * FixedPointFormat.chunkBound
        if largestMagnitude > bound { return .gradientOutOfBound(worker: worker, magnitude: largestMagnitude, bound: bound) }
        // A worker sends the fewest bytes that hold every value, and no value of `chunks` chunks needs more than these.
        let widest = Self.bytesHolding(bound)
        if valueBytes > widest { return .impossibleWidth(worker: worker, width: valueBytes, widest: widest, chunks: chunks) }
        if correct < 0 || correct > sampleCount { return .impossibleCorrect(worker: worker, correct: correct, samples: sampleCount) }
        let range = Self.lossRange(loss: loss, classCount: classCount, samples: sampleCount, wrong: sampleCount - correct)
        if !(range.contains(lossSum)) { return .impossibleLoss(worker: worker, lossSum: lossSum, samples: sampleCount, correct: correct) }
        return nil
    }

    /// The fewest bytes of a two's complement integer that hold every value of magnitude up to `magnitude`.
    static func bytesHolding(_ magnitude: UInt64) -> Int {
        (1...8).first { width in width == 8 || magnitude < UInt64(1) << (8 * width - 1) } ?? 8
    }

    /// The loss sums that `samples` samples, `wrong` of them misclassified, can give in float32:
    /// cross-entropy is -log of a softmax probability clamped at float32's least normal (at most
    /// -log(2^-126) = 87.34 a sample), and a misclassified sample's probability is at most one
    /// half (at least log 2 = 0.693); squared error over sigmoid outputs is at most half the
    /// class count a sample, and a misclassified sample's at least 1/4. A little slack on both
    /// sides for float32 rounding (a softmax of exactly 1 can round a hair above it).
    static func lossRange(loss: Loss, classCount: Int, samples: Int, wrong: Int) -> ClosedRange<Double> {
        let n = Double(samples), misclassified = Double(wrong)
        switch loss {
        case .crossEntropy:
            let most = -log(Double(Float.leastNormalMagnitude))
            return (misclassified * 0.69 - n * 1e-5)...(n * (most + 1e-3))
        case .mse:
            // With one class the argmax is always class 0, right or wrong at any loss.
            let leastWrong = classCount < 2 ? 0 : misclassified * 0.249
            return (leastWrong - n * 1e-5)...(n * (0.5 * Double(max(classCount, 1)) + 1e-3))
        }
    }
}
