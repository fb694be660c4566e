import CMatmul

/// One bf16 matrix product of a fixed shape, made once and run as often as asked:
/// C (m, n) = activation(scale * op(A) (m, k) op(B) (k, n) + bias (n)), A and B bfloat16 bits,
/// accumulated in float32, C float32 or bfloat16. Runs on the calling thread alone.
final class Matmul {
    enum Activation: Int32 { case identity = 0, relu, logistic, tanh }

    struct CreationFailed: Error, CustomStringConvertible {
        let description: String
    }

    private let handle: OpaquePointer
    let shape: (m: Int, k: Int, n: Int)

    init(m: Int, k: Int, n: Int, transposeA: Bool = false, transposeB: Bool = false, bf16Output: Bool,
         scale: Float = 1, bias: Bool = false, activation: Activation = .identity) throws {
        var error = [CChar](repeating: 0, count: 256)
        guard let handle = dptrain_matmul_create(m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0, bf16Output ? 1 : 0,
                                                 scale, bias ? 1 : 0, activation.rawValue, &error, error.count) else {
            throw CreationFailed(description: String(cString: error))
        }
        self.handle = handle
        shape = (m, k, n)
    }

    deinit { dptrain_matmul_destroy(handle) }

    /// The kernel oneDNN runs, e.g. "brg:avx512_core_bf16".
    var kernel: String { String(cString: dptrain_matmul_kernel(handle)) }

    func run(_ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>, bias: UnsafePointer<Float>? = nil, into c: UnsafeMutableRawPointer) {
        let status = dptrain_matmul_run(handle, a, b, bias, c)
        precondition(status == 0, "oneDNN failed a matmul it had accepted (status \(status))")
    }
}

/// What the bf16 products run on, for the lines a run and `dptrain bench` print.
public enum OneDNN {
    /// "oneDNN 2.6.3".
    public static var version: String { String(cString: dptrain_onednn_version()) }
    /// The best instruction set oneDNN uses here: "AMX", "AVX512-BF16", or one without bf16.
    public static var instructionSet: String { String(cString: dptrain_onednn_isa()) }

    /// GFLOP/s of one-thread bf16 products at (m, k) x (k, n) with float32 output, over `seconds`.
    public static func ceiling(m: Int, k: Int, n: Int, seconds: Double,
                               measure: (() -> Void) -> (count: Int, seconds: Double)) throws -> (gflops: Double, kernel: String) {
        let product = try Matmul(m: m, k: k, n: n, bf16Output: false)
        let a = [UInt16](repeating: 0x3F00, count: m * k), b = [UInt16](repeating: 0x3E80, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        let calls = c.withUnsafeMutableBytes { c in measure { product.run(a, b, into: c.baseAddress!) } }
        return (Double(calls.count) * 2 * Double(m * k * n) / calls.seconds / 1e9, product.kernel)
    }
}
