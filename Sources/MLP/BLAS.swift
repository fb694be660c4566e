import CBLAS

/// What the process's BLAS is: the library's build string and the kernel
/// family (core type) it picked when it loaded.
public enum BLAS {
    /// The core type OpenBLAS runs on, e.g. "SkylakeX", "Haswell", "Prescott".
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }
    /// OpenBLAS's build configuration, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY ...".
    public static var configuration: String { openblas_get_config().map { String(cString: $0) } ?? "unknown" }

    /// One process per core: each worker's BLAS runs on one thread.
    public static func useOneThread() { openblas_set_num_threads(1) }

    /// The Euclidean norm of `x`, for the metrics' gradient norm: the square root of x.x, which
    /// OpenBLAS vectorises, where its snrm2 (safe from overflow past 1e19) is several times slower.
    public static func norm(_ x: UnsafeBufferPointer<Float>) -> Float {
        x.isEmpty ? 0 : cblas_sdot(Int32(x.count), x.baseAddress!, 1, x.baseAddress!, 1).squareRoot()
    }

    /// C (m, n) = A (m, k) B (k, n), for benchmarks that measure the ceiling.
    public static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
                                m: Int, k: Int, n: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(n), 0, c, Int32(n))
    }
}
