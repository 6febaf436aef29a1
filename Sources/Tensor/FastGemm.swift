import CGemm
import Foundation

/// Forger's own matrix multiply (the CGemm target) for the convolutions' hot loop: the weights
/// packed once at load, B read straight from a padded image through a table of row offsets, and
/// bias, activation and the scatter into the output layout fused into the store. The kernels run
/// on one vector path (`path`: AVX-512, AVX2 + FMA or NEON); single-threaded: callers split the
/// work over cores. Where no path is active the callers keep their OpenBLAS path;
/// `Gemm.gemmNaive` and the layers' plain references are the oracles.
public enum FastGemm {
    /// The kernels' instruction sets (CGemm's FORGER_ISA_*).
    public enum Path: Int32, CaseIterable, Sendable {
        case none = 0, avx2 = 1, avx512 = 2, neon = 3
        public var name: String { String(cString: forger_isa_name(rawValue)) }
    }

    /// The active path: the best this CPU runs, or the one FORGER_ISA names (avx512, avx2, neon,
    /// none; the process exits with a message where this CPU cannot run it); `use` changes it.
    public static var path: Path { Path(rawValue: forger_isa()) ?? .none }

    /// The vector paths this CPU (and this build) can run, best first.
    public static let vectorPaths: [Path] = [.avx512, .avx2, .neon].filter { forger_isa_runnable($0.rawValue) == 1 }

    /// Makes `p` the active path (false, nothing changed, where this CPU cannot run it). Layers
    /// and plans built before keep working (the packed layouts are the same on every path).
    /// Not while kernels run.
    @discardableResult
    public static func use(_ p: Path) -> Bool {
        forger_isa_set(p.rawValue) == 1
    }

    /// Runs `body` once on each vector path this CPU runs, that path active,
    /// then restores the path that was active (tests: every kernel on every path).
    public static func forEachVectorPath(_ body: (Path) throws -> Void) rethrows {
        let saved = path
        defer { use(saved) }
        for p in vectorPaths {
            use(p)
            try body(p)
        }
    }

    /// Whether a vector path is active. FORGER_NO_FAST_GEMM=1 turns the kernels off (to compare).
    public static var supported: Bool { forger_gemm_available() == 1 && !offByEnvironment }
    private static let offByEnvironment = getenv("FORGER_NO_FAST_GEMM") != nil

    public static let panelRows = Int(FORGER_GEMM_MR)
    public static let blockColumns = Int(FORGER_GEMM_NR)

    /// Scratch floats one call with m rows needs.
    public static func scratchCount(rows m: Int) -> Int { forger_gemm_scratch_count(Int32(m)) }

    /// A (m x k), a[i * lda + p] (or a[p * lda + i] when `transposed`), packed for `multiply`.
    public static func pack(m: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int, transposed: Bool = false) -> [Float] {
        [Float](unsafeUninitializedCapacity: forger_gemm_packed_a_count(Int32(m), Int32(k))) { buffer, count in
            forger_gemm_pack_a(Int32(m), Int32(k), a, lda, transposed ? 1 : 0, buffer.baseAddress!)
            count = buffer.count
        }
    }

    /// y = act(x) for relu and leaky relu on the vector path; false (nothing done) otherwise.
    /// Exact, so the same values as the scalar loop.
    static func activate(_ a: ActivationKind, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        guard supported else { return false }
        let (code, slope) = a.kernelCode
        return forger_activation_forward(code, slope, x, y, count) == 1
    }

    /// dx = dy * act'(y) for relu and leaky relu on the vector path; false (nothing done) otherwise.
    /// Exact, so the same values as the scalar loop.
    static func activationGradient(_ a: ActivationKind, output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                   _ dx: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        guard supported else { return false }
        let (code, slope) = a.kernelCode
        return forger_activation_backward(code, slope, y, dy, dx, count) == 1
    }

    /// y (n) = x (k) * W (k x n, row-major, leading dimension ldw) on the vector path, each value the
    /// same as `multiply` gives for that row; false (nothing done) where no vector path is active.
    @discardableResult
    public static func rowTimesMatrix(k: Int, n: Int, x: UnsafePointer<Float>, w: UnsafePointer<Float>, ldw: Int,
                                      y: UnsafeMutablePointer<Float>) -> Bool {
        guard supported else { return false }
        forger_gemv_rows(Int32(k), Int32(n), x, w, ldw, y)
        return true
    }

    /// Where the columns of B come from: rows of a matrix, or rows at offsets from a base.
    public enum Source {
        case matrix(UnsafePointer<Float>, ld: Int, transposed: Bool)
        case rows(UnsafePointer<Float>, offsets: UnsafePointer<Int>)
        /// B[p][j] = base[offsets[p] + positions[j]]: an implicit column matrix.
        case implicit(UnsafePointer<Float>, offsets: UnsafePointer<Int>, positions: UnsafePointer<Int32>)
        /// B[p][j] = base[offsets[j] + positions[p]]: the transposed implicit matrix.
        case implicitTransposed(UnsafePointer<Float>, offsets: UnsafePointer<Int>, positions: UnsafePointer<Int32>)
    }

    /// Where C goes: row i (an output channel) starts at base + i * rowStride; column j at +j,
    /// or at +columns[j] (negative: dropped) when `columns` is set. beta needs plain columns.
    public struct Destination {
        public var base: UnsafeMutablePointer<Float>
        public var rowStride: Int
        public var columns: UnsafePointer<Int32>?
        public var bias: UnsafePointer<Float>?
        public var activation: ActivationKind = .identity
        public var alpha: Float = 1, beta: Float = 0

        public init(base: UnsafeMutablePointer<Float>, rowStride: Int, columns: UnsafePointer<Int32>? = nil,
                    bias: UnsafePointer<Float>? = nil, activation: ActivationKind = .identity,
                    alpha: Float = 1, beta: Float = 0) {
            self.base = base; self.rowStride = rowStride; self.columns = columns; self.bias = bias
            self.activation = activation; self.alpha = alpha; self.beta = beta
        }
    }

    /// C (m x n) = act(alpha * A * B + bias) (+ beta * C) for a packed A (m x k).
    /// `scratch` holds `scratchCount(rows: m)` floats.
    public static func multiply(m: Int, n: Int, k: Int, packedA: UnsafePointer<Float>, b: Source,
                                into c: Destination, scratch: UnsafeMutablePointer<Float>) {
        precondition(supported, "FastGemm.multiply with no vector path active")
        precondition(m < Int(Int32.max) && n < Int(Int32.max) && k < Int(Int32.max), "FastGemm: a dimension over 2^31")
        precondition(c.columns == nil || c.beta == 0, "FastGemm: beta needs plain columns")
        if m == 0 || n == 0 { return }
        var source: forger_gemm_b
        switch b {
        case .matrix(let base, let ld, let transposed):
            source = forger_gemm_b(base: base, offsets: nil, positions: nil, ld: ld, transposed: transposed ? 1 : 0)
        case .rows(let base, let offsets):
            source = forger_gemm_b(base: base, offsets: offsets, positions: nil, ld: 0, transposed: 0)
        case .implicit(let base, let offsets, let positions):
            source = forger_gemm_b(base: base, offsets: offsets, positions: positions, ld: 0, transposed: 0)
        case .implicitTransposed(let base, let offsets, let positions):
            source = forger_gemm_b(base: base, offsets: offsets, positions: positions, ld: 0, transposed: 1)
        }
        let (code, slope) = c.activation.kernelCode
        var destination = forger_gemm_c(base: c.base, row_stride: c.rowStride, columns: c.columns, bias: c.bias,
                                        activation: code, slope: slope, alpha: c.alpha, beta: c.beta)
        forger_gemm(Int32(m), Int32(n), Int32(k), packedA, &source, &destination, scratch)
    }
}

extension ActivationKind {
    /// The CGemm kernels' code for this activation, and its slope.
    var kernelCode: (Int32, Float) {
        switch self {
        case .identity: return (Int32(FORGER_ACT_IDENTITY), 0)
        case .relu: return (Int32(FORGER_ACT_RELU), 0)
        case .leakyReLU(let s): return (Int32(FORGER_ACT_LEAKY), s)
        case .tanh: return (Int32(FORGER_ACT_TANH), 0)
        case .sigmoid: return (Int32(FORGER_ACT_SIGMOID), 0)
        }
    }
}
