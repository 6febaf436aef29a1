import CBLAS
import Foundation

/// Matrix multiply: C = alpha * op(A) * op(B) + beta * C, row-major, through cblas_sgemm.
///
/// `gemmNaive` beside it is the algorithmic reference and the test oracle.
public enum Gemm {
    /// Tells OpenBLAS to run each call on the calling thread only. Forger parallelises across
    /// images itself: Debian's OpenBLAS 0.3.21 does not split the skinny shapes convolutions make.
    ///
    /// It also corrects OpenBLAS's kernel choice: Debian's 0.3.21 does not know recent Xeons
    /// (e.g. family 6 model 207) and falls back to its SSE3 "Prescott" kernels, 4-8x slower
    /// than the AVX-512 or AVX2 ones the CPU runs. Unless OPENBLAS_CORETYPE is set, a generic
    /// choice on a CPU with AVX-512 (or AVX2 + FMA) is redone through OpenBLAS's own dynamic-arch
    /// entry points with SkylakeX (or Haswell), before any BLAS call.
    ///
    /// Its idle worker threads are then shut down: right after loading they spin on sched_yield
    /// for a while, taking a core from the first images of a cold process.
    public static func useSingleThreadedBLAS() {
        selectKernelsForThisCPU()
        openblas_set_num_threads(1)
        _ = symbol("blas_thread_shutdown_", as: (@convention(c) () -> Int32).self)?()
    }

    /// The kernel set OpenBLAS runs, e.g. "SkylakeX", or nil when it does not say.
    public static var kernelName: String? {
        guard let f = symbol("gotoblas_corename", as: (@convention(c) () -> UnsafePointer<CChar>?).self),
              let name = f() else { return nil }
        return String(cString: name)
    }

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let p = dlsym(handle, name) else { return nil }
        return unsafeBitCast(p, to: type)
    }

    private static func selectKernelsForThisCPU() {
        guard getenv("OPENBLAS_CORETYPE") == nil, let current = kernelName?.lowercased(),
              ["prescott", "core2", "penryn", "dunnington", "nehalem", "sandybridge", "unknown"].contains(current),
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let target: String
        if ["avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd"].allSatisfy(flags.contains) {
            target = "SkylakeX"
        } else if ["avx2", "fma"].allSatisfy(flags.contains) {
            target = "Haswell"
        } else {
            return
        }
        guard let quit = symbol("gotoblas_dynamic_quit", as: (@convention(c) () -> Void).self),
              let initialise = symbol("gotoblas_dynamic_init", as: (@convention(c) () -> Void).self) else { return }
        setenv("OPENBLAS_CORETYPE", target, 1)
        quit()
        initialise()
        unsetenv("OPENBLAS_CORETYPE")
    }

    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                    beta, c, Int32(ldc))
    }

    /// Plain-loop reference for `sgemm`.
    public static func gemmNaive(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k {
                    let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += av * bv
                }
                c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
            }
        }
    }
}
