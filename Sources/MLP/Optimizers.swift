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

public protocol Optimizer: AnyObject {
    var config: OptimizerConfig { get }
    var state: OptimizerState { get set }
    /// Applies one step at `learningRate` (the schedule's rate for this step).
    /// `gradientSum` (P) is the gradient summed over `sampleCount` samples; the
    /// optimizer divides by the count itself.
    func step(parameters: UnsafeMutableBufferPointer<Float>, gradientSum: UnsafeBufferPointer<Float>,
              sampleCount: Int, learningRate: Float)
}

public func makeOptimizer(_ config: OptimizerConfig, parameterCount: Int) -> Optimizer {
    switch config.kind {
    case .sgd: return SGD(config)
    case .momentum: return Momentum(config, parameterCount: parameterCount)
    case .adam: return Adam(config, parameterCount: parameterCount)
    }
}

/// p -= lr * g
public final class SGD: Optimizer {
    public let config: OptimizerConfig
    private var steps = 0
    public var state: OptimizerState {
        get { OptimizerState(step: steps, moments: []) }
        set { steps = newValue.step }
    }

    public init(_ config: OptimizerConfig) { self.config = config }

    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradientSum: UnsafeBufferPointer<Float>,
                     sampleCount: Int, learningRate: Float) {
        precondition(parameters.count == gradientSum.count && sampleCount > 0)
        let scale = learningRate / Float(sampleCount)
        let keep = 1 - learningRate * config.weightDecay
        for i in 0..<parameters.count {
            parameters[i] = parameters[i] * keep - scale * gradientSum[i]
        }
        steps += 1
    }
}

/// v = mu * v + g;  p -= lr * v   (heavy ball, as PyTorch's SGD with momentum)
public final class Momentum: Optimizer {
    public let config: OptimizerConfig
    private var steps = 0
    private var velocity: [Float]   // (P)
    public var state: OptimizerState {
        get { OptimizerState(step: steps, moments: [velocity]) }
        set {
            precondition(newValue.moments.count == 1 && newValue.moments[0].count == velocity.count)
            steps = newValue.step
            velocity = newValue.moments[0]
        }
    }

    public init(_ config: OptimizerConfig, parameterCount: Int) {
        self.config = config
        velocity = [Float](repeating: 0, count: parameterCount)
    }

    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradientSum: UnsafeBufferPointer<Float>,
                     sampleCount: Int, learningRate: Float) {
        precondition(parameters.count == gradientSum.count && sampleCount > 0)
        let inverseCount = 1 / Float(sampleCount)
        let mu = config.momentum, lr = learningRate
        let keep = 1 - lr * config.weightDecay
        velocity.withUnsafeMutableBufferPointer { velocity in
            precondition(velocity.count == parameters.count)
            let v = velocity.baseAddress!, p = parameters.baseAddress!, g = gradientSum.baseAddress!
            let count = parameters.count
            var i = 0
            while i + 8 <= count {
                let newVelocity = mu * load8(v + i) + inverseCount * load8(g + i)
                store8(newVelocity, v + i)
                store8(keep * load8(p + i) - lr * newVelocity, p + i)
                i += 8
            }
            while i < count {
                v[i] = mu * v[i] + g[i] * inverseCount
                p[i] = p[i] * keep - lr * v[i]
                i += 1
            }
        }
        steps += 1
    }
}

/// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr * m^ / (sqrt(v^) + eps)
public final class Adam: Optimizer {
    public let config: OptimizerConfig
    private var steps = 0
    private var firstMoment: [Float]    // m (P)
    private var secondMoment: [Float]   // v (P)
    public var state: OptimizerState {
        get { OptimizerState(step: steps, moments: [firstMoment, secondMoment]) }
        set {
            precondition(newValue.moments.count == 2 && newValue.moments.allSatisfy { $0.count == firstMoment.count })
            steps = newValue.step
            firstMoment = newValue.moments[0]
            secondMoment = newValue.moments[1]
        }
    }

    public init(_ config: OptimizerConfig, parameterCount: Int) {
        self.config = config
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = firstMoment
    }

    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradientSum: UnsafeBufferPointer<Float>,
                     sampleCount: Int, learningRate: Float) {
        precondition(parameters.count == gradientSum.count && sampleCount > 0)
        steps += 1
        let inverseCount = 1 / Float(sampleCount)
        let b1 = config.momentum, b2 = config.beta2, eps = config.epsilon, lr = learningRate
        let t = Float(steps)
        let correction1 = 1 / (1 - powf(b1, t)), correction2 = 1 / (1 - powf(b2, t))
        let keep = 1 - lr * config.weightDecay
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in
                for i in 0..<parameters.count {
                    let g = gradientSum[i] * inverseCount
                    m[i] = b1 * m[i] + (1 - b1) * g
                    v[i] = b2 * v[i] + (1 - b2) * g * g
                    let update = (m[i] * correction1) / ((v[i] * correction2).squareRoot() + eps)
                    parameters[i] = parameters[i] * keep - lr * update
                }
            }
        }
    }
}
