import MLP
import XCTest

/// An optimizer's step over ranges updated apart (threads, parameter servers) gives the bits of
/// the whole vector updated at once, at any boundaries: aligned or not, inside the vector body
/// or its tail.
final class OptimizerRangeTests: XCTestCase {
    func testRangesUpdatedApartGiveTheWholeVectorsBits() {
        let count = 1_037
        let splits: [[Int]] = [[], [1], [7, 8, 9], [13, 64, 100, 1_000], Array(stride(from: 3, to: count, by: 61))]
        for kind in OptimizerConfig.Kind.allCases {
            let config = OptimizerConfig(kind: kind, learningRate: 0.05, weightDecay: 1e-3)
            let whole = makeOptimizer(config, parameterCount: count)
            var expected = (0..<count).map { Float(sin(Double($0))) }
            var ranged: [(Optimizer, [Float])] = splits.map { _ in (makeOptimizer(config, parameterCount: count), expected) }
            for step in 0..<5 {
                let gradient = (0..<count).map { Float(cos(Double($0 * (step + 3)))) * 37 }
                expected.withUnsafeMutableBufferPointer { p in
                    gradient.withUnsafeBufferPointer { whole.step(parameters: p, gradientSum: $0, sampleCount: 96, learningRate: 0.05) }
                }
                for (index, bounds) in splits.enumerated() {
                    let edges = [0] + bounds + [count]
                    let optimizer = ranged[index].0
                    ranged[index].1.withUnsafeMutableBufferPointer { p in
                        gradient.withUnsafeBufferPointer { g in
                            // In reverse, as threads may finish in any order.
                            for (low, high) in zip(edges, edges.dropFirst()).reversed() {
                                optimizer.update(low..<high, parameters: p.baseAddress!, gradientSum: g.baseAddress!, sampleCount: 96, learningRate: 0.05)
                            }
                        }
                    }
                    ranged[index].0.finishStep()
                    XCTAssertEqual(ranged[index].1.map(\.bitPattern), expected.map(\.bitPattern), "\(kind), split at \(bounds), step \(step)")
                }
            }
            for (optimizer, _) in ranged { XCTAssertEqual(optimizer.state, whole.state, "\(kind)") }
        }
    }
}
