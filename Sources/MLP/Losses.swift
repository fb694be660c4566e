import Foundation

/// What one batch scored: summed, not averaged, so that sums from several
/// workers add up to the sums of the union of their batches.
public struct BatchScore: Equatable, Sendable {
    public var lossSum: Double
    public var correct: Int
    public var samples: Int

    public init(lossSum: Double = 0, correct: Int = 0, samples: Int = 0) {
        self.lossSum = lossSum
        self.correct = correct
        self.samples = samples
    }

    public static func += (lhs: inout BatchScore, rhs: BatchScore) {
        lhs.lossSum += rhs.lossSum
        lhs.correct += rhs.correct
        lhs.samples += rhs.samples
    }

    public var meanLoss: Double { samples > 0 ? lossSum / Double(samples) : 0 }
    public var accuracy: Double { samples > 0 ? Double(correct) / Double(samples) : 0 }
}

/// Scores the output O (rows, classes) against the labels and, when `outputGradient`
/// is given, writes dLoss/dZ of the output layer (rows, classes) there, for the summed loss.
/// With `smoothing` s (cross-entropy only) the target is (1 - s) onehot(label) + s / C, the loss
/// its cross-entropy and dZ = P - target.
func scoreOutput(_ loss: Loss, output: UnsafePointer<Float>, labels: UnsafePointer<UInt8>,
                 rows: Int, classes: Int, outputGradient: UnsafeMutablePointer<Float>?, smoothing: Float = 0) -> BatchScore {
    if smoothing > 0 && loss == .crossEntropy {
        return scoreSmoothed(output: output, labels: labels, rows: rows, classes: classes, outputGradient: outputGradient, smoothing: smoothing)
    }
    var score = BatchScore(samples: rows)
    for r in 0..<rows {
        let o = output + r * classes
        let label = Int(labels[r])
        var best = 0
        for c in 1..<max(classes, 1) where o[c] > o[best] { best = c }
        if best == label { score.correct += 1 }

        switch loss {
        case .crossEntropy:
            // Softmax then cross-entropy: dZ = P - onehot(label).
            // Clamped away from log(0), but a NaN output must stay NaN so that divergence shows.
            let p = o[label]
            score.lossSum -= Double(logf(p.isNaN ? p : max(p, .leastNormalMagnitude)))
            if let g = outputGradient.map({ $0 + r * classes }) {
                for c in 0..<classes { g[c] = o[c] }
                g[label] -= 1
            }
        case .mse:
            // Sigmoid then E = Y - O, loss 0.5 * E^2: dZ = (O - Y) * O * (1 - O).
            var sum: Float = 0
            for c in 0..<classes {
                let target: Float = c == label ? 1 : 0
                let error = target - o[c]
                sum += error * error
                outputGradient?[r * classes + c] = -error * o[c] * (1 - o[c])
            }
            score.lossSum += Double(0.5 * sum)
        }
    }
    return score
}

/// `scoreOutput` for softmax and cross-entropy against the smoothed target.
private func scoreSmoothed(output: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, rows: Int, classes: Int,
                           outputGradient: UnsafeMutablePointer<Float>?, smoothing: Float) -> BatchScore {
    var score = BatchScore(samples: rows)
    let spread = smoothing / Float(classes), onLabel = 1 - smoothing
    for r in 0..<rows {
        let o = output + r * classes
        let label = Int(labels[r])
        var best = 0
        for c in 1..<classes where o[c] > o[best] { best = c }
        if best == label { score.correct += 1 }
        var loss: Double = 0
        for c in 0..<classes {
            let p = o[c]
            let target = spread + (c == label ? onLabel : 0)
            loss -= Double(target) * Double(logf(p.isNaN ? p : max(p, .leastNormalMagnitude)))
            outputGradient?[r * classes + c] = p - target
        }
        score.lossSum += loss
    }
    return score
}
