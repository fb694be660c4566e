import Foundation

/// How parameters move given a gradient. Sorted in order of increasing
/// complexity; each optimizer implements only its own step.
public struct OptimizerConfig: Codable, Equatable, Sendable {
    public enum Kind: String, CaseIterable, Codable, Sendable { case sgd, momentum, adam }

    public var kind: Kind
    /// The base rate; the schedule scales it step by step.
    public var learningRate: Float
    public var schedule: LearningRateSchedule
    /// Momentum for `momentum`, beta1 for `adam`.
    public var momentum: Float
    public var beta2: Float
    public var epsilon: Float
    /// Decoupled weight decay (as in AdamW): p -= lr * weightDecay * p each step.
    public var weightDecay: Float

    public init(kind: Kind, learningRate: Float, schedule: LearningRateSchedule = .constant, momentum: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.kind = kind
        self.learningRate = learningRate
        self.schedule = schedule
        self.momentum = momentum
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }
}

/// The optimizer's memory, for checkpoints: the step count and one buffer (P) per moment.
public struct OptimizerState: Codable, Equatable, Sendable {
    public var step: Int
    public var moments: [[Float]]

    public init(step: Int, moments: [[Float]]) {
        self.step = step
        self.moments = moments
    }
}

/// An optimizer's step, elementwise: `update` of any range of the parameters touches that range
/// alone and computes each element with the same operations wherever it falls (the vector body
/// and the tail alike), so ranges updated apart (on threads, or by parameter servers each its
/// own) give the bits of the whole vector updated at once. `finishStep()` counts the step once
/// every range is done.
public protocol Optimizer: AnyObject {
    var config: OptimizerConfig { get }
    var state: OptimizerState { get set }
    /// Updates `range` of `parameters` from the same range of `gradientSum` (both whole vectors,
    /// indexed from 0), the sum of `sampleCount` samples' gradients, at `learningRate`.
    func update(_ range: Range<Int>, parameters: UnsafeMutablePointer<Float>, gradientSum: UnsafePointer<Float>,
                sampleCount: Int, learningRate: Float)
    /// The step is done over every range.
    func finishStep()
}

extension Optimizer {
    /// One step over the whole vector.
    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradientSum: UnsafeBufferPointer<Float>,
                     sampleCount: Int, learningRate: Float) {
        precondition(parameters.count == gradientSum.count && sampleCount > 0)
        guard let p = parameters.baseAddress, let g = gradientSum.baseAddress else { return finishStep() }
        update(0..<parameters.count, parameters: p, gradientSum: g, sampleCount: sampleCount, learningRate: learningRate)
        finishStep()
    }
}

public func makeOptimizer(_ config: OptimizerConfig, parameterCount: Int) -> Optimizer {
    switch config.kind {
    case .sgd: return SGD(config)
    case .momentum: return Momentum(config, parameterCount: parameterCount)
    case .adam: return Adam(config, parameterCount: parameterCount)
    }
}

/// A moment vector the optimizer owns: plain memory, so that threads may each update their own
/// range of it (a Swift array's mutation is no place for several threads at once).
final class Moments {
    let count: Int
    let values: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        values = .allocate(capacity: max(count, 1))
        values.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { values.deallocate() }

    var array: [Float] {
        get { Array(UnsafeBufferPointer(start: values, count: count)) }
        set {
            precondition(newValue.count == count)
            newValue.withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: count) }
        }
    }
}

/// p = p (1 - lr wd) - lr g / n
public final class SGD: Optimizer {
    public let config: OptimizerConfig
    private var steps = 0
    public var state: OptimizerState {
        get { OptimizerState(step: steps, moments: []) }
        set { steps = newValue.step }
    }

    public init(_ config: OptimizerConfig) { self.config = config }

    public func update(_ range: Range<Int>, parameters: UnsafeMutablePointer<Float>, gradientSum: UnsafePointer<Float>,
                       sampleCount: Int, learningRate: Float) {
        precondition(sampleCount > 0)
        let scale = learningRate / Float(sampleCount)
        let keep = 1 - learningRate * config.weightDecay
        for i in range {
            parameters[i] = parameters[i] * keep - scale * gradientSum[i]
        }
    }

    public func finishStep() { steps += 1 }
}

/// v = mu v + g / n;  p = p (1 - lr wd) - lr v
public final class Momentum: Optimizer {
    public let config: OptimizerConfig
    private var steps = 0
    private let velocity: Moments   // (P)
    public var state: OptimizerState {
        get { OptimizerState(step: steps, moments: [velocity.array]) }
        set {
            precondition(newValue.moments.count == 1 && newValue.moments[0].count == velocity.count)
            steps = newValue.step
            velocity.array = newValue.moments[0]
        }
    }

    public init(_ config: OptimizerConfig, parameterCount: Int) {
        self.config = config
        velocity = Moments(count: parameterCount)
    }

    public func update(_ range: Range<Int>, parameters p: UnsafeMutablePointer<Float>, gradientSum g: UnsafePointer<Float>,
                       sampleCount: Int, learningRate: Float) {
        precondition(sampleCount > 0 && range.upperBound <= velocity.count)
        let inverseCount = 1 / Float(sampleCount)
        let mu = config.momentum, lr = learningRate
        let keep = 1 - lr * config.weightDecay
        let v = velocity.values
        // The vector body and the tail make each element with the same multiplies and adds, none
        // fused, so an element's bits do not depend on where its range begins or ends.
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let newVelocity = mu * load8(v + i) + load8(g + i) * inverseCount
            store8(newVelocity, v + i)
            store8(load8(p + i) * keep - lr * newVelocity, p + i)
            i += 8
        }
        while i < range.upperBound {
            v[i] = mu * v[i] + g[i] * inverseCount
            p[i] = p[i] * keep - lr * v[i]
            i += 1
        }
    }

    public func finishStep() { steps += 1 }
}

/// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr * m^ / (sqrt(v^) + eps)
public final class Adam: Optimizer {
    public let config: OptimizerConfig
    private var steps = 0
    private let firstMoment: Moments    // m (P)
    private let secondMoment: Moments   // v (P)
    public var state: OptimizerState {
        get { OptimizerState(step: steps, moments: [firstMoment.array, secondMoment.array]) }
        set {
            precondition(newValue.moments.count == 2 && newValue.moments.allSatisfy { $0.count == firstMoment.count })
            steps = newValue.step
            firstMoment.array = newValue.moments[0]
            secondMoment.array = newValue.moments[1]
        }
    }

    public init(_ config: OptimizerConfig, parameterCount: Int) {
        self.config = config
        firstMoment = Moments(count: parameterCount)
        secondMoment = Moments(count: parameterCount)
    }

    public func update(_ range: Range<Int>, parameters: UnsafeMutablePointer<Float>, gradientSum: UnsafePointer<Float>,
                       sampleCount: Int, learningRate: Float) {
        precondition(sampleCount > 0 && range.upperBound <= firstMoment.count)
        let inverseCount = 1 / Float(sampleCount)
        let b1 = config.momentum, b2 = config.beta2, eps = config.epsilon, lr = learningRate
        // This step's bias corrections: the step is counted by `finishStep`, once every range is done.
        let t = Float(steps + 1)
        let correction1 = 1 / (1 - powf(b1, t)), correction2 = 1 / (1 - powf(b2, t))
        let keep = 1 - lr * config.weightDecay
        let m = firstMoment.values, v = secondMoment.values
        for i in range {
            let g = gradientSum[i] * inverseCount
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            let update = (m[i] * correction1) / ((v[i] * correction2).squareRoot() + eps)
            parameters[i] = parameters[i] * keep - lr * update
        }
    }

    public func finishStep() { steps += 1 }
}
