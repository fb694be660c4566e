import XCTest
@testable import MLP

/// The bf16 passes (`--compute bf16`) against the float32 ones: the same gradient to bfloat16's
/// precision, and a chunk's bits that depend on nothing but the chunk.
final class BF16GradientTests: XCTestCase {
    override func setUpWithError() throws {
        // Runs wherever the CPU multiplies bf16 natively; elsewhere says which instructions are missing.
        try XCTSkipIf(!BF16Support.isAvailable, BF16Support.currentProblem ?? "")
    }

    /// A chunk of `rows` random pixels and labels.
    private struct Chunk {
        let pixels: [UInt8]
        let labels: [UInt8]
        init(rows: Int, features: Int, classes: Int, seed: UInt64) {
            var generator = SeededGenerator(seed: seed)
            pixels = (0..<(rows * features)).map { _ in UInt8(generator.next() % 256) }
            labels = (0..<rows).map { _ in UInt8(generator.next() % UInt64(classes)) }
        }
        var rows: Int { labels.count }
    }

    private func float32Gradient(_ spec: ModelSpec, _ parameters: [Float], _ chunk: Chunk) -> (gradient: [Float], score: BatchScore) {
        let workspace = Workspace(spec: spec, capacity: chunk.rows)
        for i in chunk.pixels.indices { workspace.input[i] = Float(chunk.pixels[i]) * (1 / 255) }
        var gradient = [Float](repeating: .nan, count: parameters.count)
        let score = workspace.gradient(parameters: parameters, labels: chunk.labels, rows: chunk.rows, into: &gradient)
        return (gradient, score)
    }

    private func bf16Gradient(_ workspace: BF16Workspace, _ parameters: [Float], _ chunk: Chunk) -> (gradient: [Float], score: BatchScore) {
        for i in chunk.pixels.indices { workspace.input[i] = UInt16(Float(chunk.pixels[i]).bitPattern >> 16) }
        workspace.loadWeights(parameters)
        var gradient = [Float](repeating: .nan, count: parameters.count)
        let score = workspace.gradient(parameters: parameters, labels: chunk.labels, rows: chunk.rows, into: &gradient)
        return (gradient, score)
    }

    func testGradientsAreFloat32sToBfloat16sPrecision() throws {
        for activation in Activation.allCases {
            for loss in Loss.allCases {
                for useBias in [true, false] {
                    let spec = ModelSpec(layerSizes: [40, 24, 16, 5], hiddenActivation: activation, loss: loss, useBias: useBias)
                    let label = "\(activation) \(loss) bias=\(useBias)"
                    var parameters = spec.initialParameters(activation == .relu ? .he : .xavier, seed: 3)
                    var generator = SeededGenerator(seed: 9)
                    for i in parameters.indices { parameters[i] += 0.05 * (generator.nextUnitFloat() - 0.5) }
                    let chunk = Chunk(rows: 12, features: 40, classes: 5, seed: 4)
                    let reference = float32Gradient(spec, parameters, chunk)
                    let bf16 = bf16Gradient(try BF16Workspace(spec: spec, capacity: 16), parameters, chunk)

                    XCTAssertEqual(bf16.score.samples, 12, label)
                    XCTAssertEqual(bf16.score.lossSum, reference.score.lossSum, accuracy: 0.02 * abs(reference.score.lossSum), label)
                    let norm = reference.gradient.reduce(0) { $0 + Double($1 * $1) }.squareRoot()
                    let error = zip(bf16.gradient, reference.gradient).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }.squareRoot()
                    XCTAssertGreaterThan(norm, 0.1, label)
                    // bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2%); a few roundings deep, 3% of the norm.
                    // bfloat16 keeps 8 significant bits (relative rounding 2^-9, 0.2%): a few roundings deep, within 1%
                    // of the norm (measured 0.1-0.5%). Without biases, some ReLU units of these random weights sit so
                    // near their kink that bf16's rounding switches them, and a switched unit moves a whole row:
                    // measured 2.5% and 7%, so 10% there.
                    let tolerance = activation == .relu && !useBias ? 0.1 : 0.01
                    XCTAssertLessThan(error, tolerance * norm, "\(label): the bf16 gradient is \(error / norm) of the norm away from float32's")
                    // And not the float32 gradient itself: the products did run in bf16.
                    XCTAssertGreaterThan(error, 0, label)
                }
            }
        }
    }

    /// The rows of a smaller chunk before or after a larger one in the same buffers: every chunk's
    /// bits are its own, as the exact sums need (a chunk's gradient is the same whoever computes it).
    func testAChunksBitsDoNotDependOnTheChunksBeforeIt() throws {
        let spec = ModelSpec(layerSizes: [30, 20, 10])
        let parameters = spec.initialParameters(.he, seed: 1)
        let small = Chunk(rows: 5, features: 30, classes: 10, seed: 1)
        let large = Chunk(rows: 8, features: 30, classes: 10, seed: 2)
        let workspace = try BF16Workspace(spec: spec, capacity: 8)
        let first = bf16Gradient(workspace, parameters, small)
        _ = bf16Gradient(workspace, parameters, large)
        let again = bf16Gradient(workspace, parameters, small)
        let fresh = bf16Gradient(try BF16Workspace(spec: spec, capacity: 8), parameters, small)
        XCTAssertEqual(first.gradient.map(\.bitPattern), again.gradient.map(\.bitPattern))
        XCTAssertEqual(first.gradient.map(\.bitPattern), fresh.gradient.map(\.bitPattern))
        XCTAssertEqual(first.score, again.score)
        // The 3 rows past the small chunk added nothing: it is float32's gradient of 5 rows, to bf16's precision.
        let reference = float32Gradient(spec, parameters, small).gradient
        let norm = reference.reduce(0) { $0 + Double($1 * $1) }.squareRoot()
        let error = zip(first.gradient, reference).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }.squareRoot()
        XCTAssertLessThan(error, 0.01 * norm)
    }

    func testTheProductsRunOnNativeBF16Kernels() throws {
        let workspace = try BF16Workspace(spec: ModelSpec(layerSizes: [784, 128, 10]), capacity: 64)
        XCTAssertFalse(workspace.kernels.isEmpty)
        for kernel in workspace.kernels {
            XCTAssertTrue(kernel.contains("bf16") || kernel.contains("amx"), "oneDNN runs \(kernel), not a native bf16 kernel")
        }
        XCTAssertTrue(["AVX512-BF16", "AMX"].contains(OneDNN.instructionSet), OneDNN.instructionSet)
    }
}

/// Whether a CPU may compute in bf16: decided from its flags, so that it is tested on any CPU.
final class BF16SupportTests: XCTestCase {
    func testACPUWithoutNativeBF16IsRefusedInOneLineThatNamesTheInstructions() {
        let avx512 = Set(["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"])
        let problem = BF16Support.problem(cpuFlags: avx512)
        XCTAssertEqual(problem, "--compute bf16 needs a CPU with AVX512-BF16 (avx512_bf16) or AMX (amx_bf16), and this one has neither: "
                       + "emulated bf16 would be several times slower than float32; train without --compute, in float32")
        XCTAssertFalse(problem!.contains("\n"))
        XCTAssertNil(BF16Support.problem(cpuFlags: avx512.union(["avx512_bf16"])))
        XCTAssertNil(BF16Support.problem(cpuFlags: avx512.union(["amx_bf16", "amx_tile"])))
    }

    func testTheSeamHidesFlagsFromThisProcessesCheck() {
        let before = ProcessInfo.processInfo.environment[BF16Support.hideFlagsVariable]
        setenv(BF16Support.hideFlagsVariable, "avx512_bf16,amx_bf16", 1)
        defer { if let before { setenv(BF16Support.hideFlagsVariable, before, 1) } else { unsetenv(BF16Support.hideFlagsVariable) } }
        XCTAssertFalse(BF16Support.isAvailable)
        XCTAssertEqual(BF16Support.currentProblem, BF16Support.problem(cpuFlags: []))
    }
}
