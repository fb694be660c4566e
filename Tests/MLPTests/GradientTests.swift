import XCTest
@testable import MLP

/// The analytic gradient of every activation and loss against central finite differences.
final class GradientTests: XCTestCase {
    func testGradientsMatchFiniteDifferences() {
        for activation in Activation.allCases {
            for loss in Loss.allCases {
                for useBias in [true, false] {
                    let spec = ModelSpec(layerSizes: [6, 5, 4, 3], hiddenActivation: activation, loss: loss, useBias: useBias)
                    checkGradient(spec, label: "\(activation) \(loss) bias=\(useBias)")
                }
            }
        }
    }

    /// The smoothed cross-entropy's gradient, against the differences of the loss it reports.
    func testLabelSmoothingGradientsMatchFiniteDifferences() {
        var spec = ModelSpec(layerSizes: [6, 5, 4, 3], hiddenActivation: .tanh)
        spec.labelSmoothing = 0.2
        checkGradient(spec, label: "smoothed")
    }

    /// Dropout's gradient, with the batch's masks held fixed, against the differences of its loss.
    func testDropoutGradientsMatchFiniteDifferences() {
        var spec = ModelSpec(layerSizes: [6, 8, 7, 3], hiddenActivation: .relu)
        spec.dropout = 0.3
        checkGradient(spec, label: "dropout")
    }

    /// A mask drops about the rate's share of the units, scales the rest by 1 / (1 - rate), and
    /// is the same for the same image, seed and epoch wherever the image sits in the batch.
    func testDropoutMasksDropTheirShareAndFollowTheSample() {
        let spec = ModelSpec(layerSizes: [16, 1000, 10])
        let images = (0..<32).map { Float($0 % 16) / 16 + Float($0 / 16) }   // two different images
        let masks = DropoutMasks(spec: spec, capacity: 2), swapped = DropoutMasks(spec: spec, capacity: 2)
        masks.draw(DropoutDraw(rate: 0.25, seed: 1, epoch: 1), images: images, features: 16, rows: 2)
        swapped.draw(DropoutDraw(rate: 0.25, seed: 1, epoch: 1), images: Array(images[16...] + images[..<16]), features: 16, rows: 2)
        var ones = [Float](repeating: 1, count: 2000), swappedOnes = ones
        masks.apply(layer: 0, to: &ones, rows: 2)
        swapped.apply(layer: 0, to: &swappedOnes, rows: 2)
        XCTAssertEqual(Array(ones[..<1000]), Array(swappedOnes[1000...]), "the first image's mask moved with it")
        XCTAssertNotEqual(Array(ones[..<1000]), Array(ones[1000...]), "two images, two masks")
        let dropped = ones.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped) / 2000, 0.25, accuracy: 0.04)
        XCTAssertTrue(ones.allSatisfy { $0 == 0 || abs($0 - 4.0 / 3) < 1e-6 })
    }

    /// Smoothing 0.2 over 3 classes: the target of a sample of label 0 is (0.8667, 0.0667, 0.0667).
    func testLabelSmoothingScoresTheSmoothedTarget() {
        var spec = ModelSpec(layerSizes: [2, 3], hiddenActivation: .relu)
        spec.labelSmoothing = 0.2
        let workspace = Workspace(spec: spec, capacity: 1)
        workspace.input.update(from: [0, 0], count: 2)
        var gradient = [Float](repeating: 0, count: spec.parameterCount)
        let parameters = [Float](repeating: 0, count: spec.parameterCount)   // every class at 1/3
        let score = workspace.gradient(parameters: parameters, labels: [0], rows: 1, into: &gradient)
        XCTAssertEqual(score.lossSum, Double(logf(3)), accuracy: 1e-6, "any target against a uniform output costs log 3")
        let biasGradient = Array(gradient.suffix(3))
        XCTAssertEqual(biasGradient[0], 1.0 / 3 - (0.8 + 0.2 / 3), accuracy: 1e-6)
        XCTAssertEqual(biasGradient[1], 1.0 / 3 - 0.2 / 3, accuracy: 1e-6)
    }

    /// Clipping scales a long gradient to the norm asked for, of its mean, and leaves a short one alone.
    func testClippingByGlobalNormScalesOnlyLongGradients() {
        var sum: [Float] = [30, 40]   // over 10 samples: mean (3, 4), norm 5
        let norm = sum.withUnsafeMutableBufferPointer { clipByGlobalNorm($0, sampleCount: 10, maxNorm: 1) }
        XCTAssertEqual(norm, 5)
        XCTAssertEqual(sum[0], 6, accuracy: 1e-5)
        XCTAssertEqual(sum[1], 8, accuracy: 1e-5)
        var short: [Float] = [3, 4]
        _ = short.withUnsafeMutableBufferPointer { clipByGlobalNorm($0, sampleCount: 1, maxNorm: 5) }
        XCTAssertEqual(short, [3, 4])
    }

    private func checkGradient(_ spec: ModelSpec, label: String) {
        let rows = 4
        var generator = SeededGenerator(seed: 7)
        var parameters = spec.initialParameters(.xavier, seed: 3)
        // Non-zero biases, so that their gradient is exercised away from zero.
        for i in parameters.indices { parameters[i] += 0.1 * (generator.nextUnitFloat() - 0.5) }
        let inputs = (0..<(rows * spec.inputSize)).map { _ in generator.nextUnitFloat() }
        let labels: [UInt8] = [0, 2, 1, 2]
        let workspace = Workspace(spec: spec, capacity: rows)
        workspace.input.update(from: inputs, count: inputs.count)
        if let rate = spec.dropout {
            let masks = DropoutMasks(spec: spec, capacity: rows)
            masks.draw(DropoutDraw(rate: rate, seed: 5, epoch: 1), images: workspace.input, features: spec.inputSize, rows: rows)
            workspace.dropout = masks
        }

        var analytic = [Float](repeating: .nan, count: parameters.count)
        _ = workspace.gradient(parameters: parameters, labels: labels, rows: rows, into: &analytic)

        /// The loss, and which hidden units were active: a difference across a ReLU kink means nothing.
        func loss(_ p: [Float]) -> (Double, [Bool]) {
            workspace.forward(parameters: p, rows: rows)
            var active: [Bool] = []
            for l in 0..<(spec.layerCount - 1) {
                active += (0..<(rows * spec.layerSizes[l + 1])).map { workspace.activations[l][$0] > 0 }
            }
            // The loss the gradient is of: the training pass's when the target is smoothed.
            guard spec.labelSmoothing == nil && spec.dropout == nil else {
                var scratch = [Float](repeating: 0, count: p.count)
                return (workspace.gradient(parameters: p, labels: labels, rows: rows, into: &scratch).lossSum, active)
            }
            return (workspace.score(labels: labels, rows: rows).lossSum, active)
        }
        let step: Float = 1e-2
        var checked = 0
        for i in parameters.indices {
            var plus = parameters, minus = parameters
            plus[i] += step
            minus[i] -= step
            let (lossPlus, activePlus) = loss(plus), (lossMinus, activeMinus) = loss(minus)
            guard spec.hiddenActivation != .relu || activePlus == activeMinus else { continue }
            checked += 1
            let numeric = (lossPlus - lossMinus) / Double(2 * step)
            let difference = abs(Double(analytic[i]) - numeric)
            XCTAssertLessThan(difference, 2e-3 * max(1, abs(numeric)),
                              "\(label): parameter \(i) analytic \(analytic[i]) numeric \(numeric)")
        }
        XCTAssertGreaterThan(checked, parameters.count * 3 / 4, "\(label): too many parameters sit on a ReLU kink")
    }

    /// The gradient sum of a batch is the sum of the gradient sums of its halves:
    /// what lets workers' sums add up to the single-process gradient.
    func testGradientSumsAddAcrossSplitBatches() {
        let spec = ModelSpec(layerSizes: [8, 6, 3])
        let parameters = spec.initialParameters(.he, seed: 1)
        var generator = SeededGenerator(seed: 2)
        let inputs = (0..<(6 * 8)).map { _ in generator.nextUnitFloat() }
        let labels: [UInt8] = [0, 1, 2, 2, 1, 0]

        func gradient(rows: Range<Int>) -> [Float] {
            let workspace = Workspace(spec: spec, capacity: rows.count)
            workspace.input.update(from: Array(inputs[(rows.lowerBound * 8)..<(rows.upperBound * 8)]), count: rows.count * 8)
            var g = [Float](repeating: 0, count: parameters.count)
            _ = workspace.gradient(parameters: parameters, labels: Array(labels[rows]), rows: rows.count, into: &g)
            return g
        }
        let whole = gradient(rows: 0..<6), first = gradient(rows: 0..<2), second = gradient(rows: 2..<6)
        for i in whole.indices {
            XCTAssertEqual(whole[i], first[i] + second[i], accuracy: 1e-5 * max(1, abs(whole[i])))
        }
    }
}
