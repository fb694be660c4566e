import XCTest
@testable import MLP

final class OptimizerTests: XCTestCase {
    /// Each optimizer, stepping on a fixed batch, drives its loss down.
    func testEveryOptimizerDecreasesTheLoss() {
        let spec = ModelSpec(layerSizes: [10, 8, 4])
        var generator = SeededGenerator(seed: 11)
        let rows = 16
        let inputs = (0..<(rows * 10)).map { _ in generator.nextUnitFloat() }
        let labels = (0..<rows).map { UInt8($0 % 4) }
        let rates: [OptimizerConfig.Kind: Float] = [.sgd: 0.5, .momentum: 0.1, .adam: 0.05]

        for kind in OptimizerConfig.Kind.allCases {
            for weightDecay: Float in [0, 1e-4] {
                var parameters = spec.initialParameters(.he, seed: 5)
                let optimizer = makeOptimizer(OptimizerConfig(kind: kind, learningRate: rates[kind]!, weightDecay: weightDecay),
                                              parameterCount: parameters.count)
                let workspace = Workspace(spec: spec, capacity: rows)
                workspace.input.update(from: inputs, count: inputs.count)
                var gradient = [Float](repeating: 0, count: parameters.count)

                let before = workspace.gradient(parameters: parameters, labels: labels, rows: rows, into: &gradient).lossSum
                var after = before
                for _ in 0..<50 {
                    parameters.withUnsafeMutableBufferPointer { p in
                        gradient.withUnsafeBufferPointer { g in optimizer.step(parameters: p, gradientSum: g, sampleCount: rows, learningRate: rates[kind]!) }
                    }
                    after = workspace.gradient(parameters: parameters, labels: labels, rows: rows, into: &gradient).lossSum
                }
                XCTAssertLessThan(after, 0.5 * before, "\(kind) weight decay \(weightDecay): loss \(before) -> \(after)")
                XCTAssertEqual(optimizer.state.step, 50)
            }
        }
    }

    /// Momentum follows v = mu v + g, p -= lr v exactly, on numbers worked by hand.
    func testMomentumStepByHand() {
        let optimizer = Momentum(OptimizerConfig(kind: .momentum, learningRate: 0.1, momentum: 0.9), parameterCount: 1)
        var p: [Float] = [1]
        let g: [Float] = [4]   // a sum over 2 samples: mean gradient 2
        for _ in 0..<2 {
            p.withUnsafeMutableBufferPointer { p in
                g.withUnsafeBufferPointer { g in optimizer.step(parameters: p, gradientSum: g, sampleCount: 2, learningRate: 0.1) }
            }
        }
        // v1 = 2, p1 = 0.8; v2 = 0.9 * 2 + 2 = 3.8, p2 = 0.8 - 0.38 = 0.42
        XCTAssertEqual(p[0], 0.42, accuracy: 1e-6)
    }
}
