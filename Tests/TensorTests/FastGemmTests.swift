import XCTest
@testable import Tensor

/// FastGemm (the CGemm kernels) against `Gemm.gemmNaive` and plain loops: every way B is read
/// (a matrix, transposed, rows at offsets, an implicit matrix of positions whose runs load as
/// masked vectors or, past four runs, as a gather), every way C is written (plain with alpha and
/// beta, or scattered through a column map with bias and activation), shapes that leave partial
/// panels and narrow blocks, and depths across the 128-deep slices.
final class FastGemmTests: VectorPathTestCase {
    typealias Values = KernelTests.Values

    override func setUpWithError() throws {
        try XCTSkipIf(FastGemm.vectorPaths.isEmpty, "no vector path on this CPU: FastGemm is not used")
    }

    func multiply(m: Int, n: Int, k: Int, a: [Float], transposeA: Bool, b: FastGemm.Source,
                  into c: inout [Float], _ destination: (UnsafeMutablePointer<Float>) -> FastGemm.Destination) {
        let packed = a.withUnsafeBufferPointer { FastGemm.pack(m: m, k: k, $0.baseAddress!, lda: transposeA ? m : k, transposed: transposeA) }
        var scratch = [Float](repeating: .nan, count: FastGemm.scratchCount(rows: m))
        c.withUnsafeMutableBufferPointer { cb in
            FastGemm.multiply(m: m, n: n, k: k, packedA: packed, b: b, into: destination(cb.baseAddress!), scratch: &scratch)
        }
    }

    /// `use` refuses a path this CPU cannot run (nothing changes), `none` turns the kernels off,
    /// and every x86-64 CPU with AVX-512 also runs (and so tests) the AVX2 path.
    func testPathSwitchRefusesWhatTheCPUCannotRun() throws { try onEveryPath(pathSwitchRefusesWhatTheCPUCannotRun) }

    func pathSwitchRefusesWhatTheCPUCannotRun() {
        let active = FastGemm.path
        XCTAssertTrue(FastGemm.vectorPaths.contains(active), active.name)
        for p in FastGemm.Path.allCases where p != .none && !FastGemm.vectorPaths.contains(p) {
            XCTAssertFalse(FastGemm.use(p), p.name)
            XCTAssertEqual(FastGemm.path, active)
        }
        XCTAssertTrue(FastGemm.use(.none))
        XCTAssertFalse(FastGemm.supported)
        XCTAssertFalse(KernelPolicy.default.usesFastGemm)
        XCTAssertTrue(FastGemm.use(active))
        XCTAssertTrue(FastGemm.supported)
        if FastGemm.vectorPaths.contains(.avx512) { XCTAssertTrue(FastGemm.vectorPaths.contains(.avx2)) }
        #if arch(arm64)
        XCTAssertEqual(FastGemm.vectorPaths, [.neon])
        #else
        XCTAssertFalse(FastGemm.vectorPaths.contains(.neon))
        #endif
    }

    /// Training's relu and leaky relu passes give what the Swift loops beside their callers give,
    /// bit for bit (-0, NaN and tails of every length up to two vectors and more).
    func testActivationPassesMatchTheSwiftLoops() throws { try onEveryPath(activationPassesMatchTheSwiftLoops) }

    func activationPassesMatchTheSwiftLoops() {
        var v = Values(state: 8)
        for n in [1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 100] {
            var x = v.tensor([n]).data
            x[0] = -0.0
            if n > 2 { x[2] = .nan }
            let dy = v.tensor([n]).data
            for (a, slope) in [(ActivationKind.relu, Float(0)), (.leakyReLU(slope: 0.2), 0.2)] {
                var y = [Float](repeating: 7, count: n + 1), dx = y
                XCTAssertTrue(FastGemm.activate(a, x, &y, count: n))
                let want = x.map { a == .relu ? max($0, 0) : $0 < 0 ? $0 * slope : $0 }
                XCTAssertEqual(y[..<n].map(\.bitPattern), want.map(\.bitPattern), "\(a) forward, \(n)")
                XCTAssertEqual(y[n], 7, "\(a) forward wrote past \(n)")
                XCTAssertTrue(FastGemm.activationGradient(a, output: want, dy, &dx, count: n))
                let grad = (0..<n).map { want[$0] > 0 ? dy[$0] : a == .relu ? 0 : dy[$0] * slope }
                XCTAssertEqual(dx[..<n].map(\.bitPattern), grad.map(\.bitPattern), "\(a) backward, \(n)")
                XCTAssertEqual(dx[n], 7, "\(a) backward wrote past \(n)")
            }
        }
    }

    func testMatrixSourcesMatchNaive() throws { try onEveryPath(matrixSourcesMatchNaive) }

    func matrixSourcesMatchNaive() {
        var v = Values(state: 21)
        for (m, n, k) in [(8, 48, 16), (1, 1, 1), (13, 70, 129), (17, 5, 300), (9, 100, 0), (24, 33, 128), (3, 17, 257)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = v.tensor([max(1, m * k)]).data, b = v.tensor([max(1, k * n)]).data
                    let start = v.tensor([m * n]).data
                    var want = start, got = start
                    Gemm.gemmNaive(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 1.5, a: a, lda: ta ? m : k,
                                   b: b, ldb: tb ? k : n, beta: 0.25, c: &want, ldc: n)
                    b.withUnsafeBufferPointer { bb in
                        multiply(m: m, n: n, k: k, a: a, transposeA: ta, b: .matrix(bb.baseAddress!, ld: tb ? k : n, transposed: tb),
                                 into: &got) { .init(base: $0, rowStride: n, alpha: 1.5, beta: 0.25) }
                    }
                    let diff = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThan(diff, 1e-4 * Float(max(1, k)).squareRoot(), "m \(m) n \(n) k \(k) ta \(ta) tb \(tb)")
                }
            }
        }
    }

    /// B[p][j] = x[offsets[p] + positions[j]] with positions in runs of `run` (1: a gather).
    func testImplicitSourceAndScatteredStoreMatchLoops() throws { try onEveryPath(implicitSourceAndScatteredStoreMatchLoops) }

    func implicitSourceAndScatteredStoreMatchLoops() {
        var v = Values(state: 22)
        let cases: [(m: Int, k: Int, run: Int)] = [(16, 20, 5), (11, 140, 24), (8, 9, 1), (20, 3, 3), (9, 260, 16)]
        for (m, k, run) in cases {
            let n = 77
            let x = v.tensor([4096]).data, a = v.tensor([m * k]).data, bias = v.tensor([m]).data
            var offsets = [Int](repeating: 0, count: k)
            for p in 0..<k { offsets[p] = (p * 37) % 900 }
            var positions = [Int32](repeating: 0, count: n)
            for j in 0..<n { positions[j] = Int32((j / run) * 40 + j % run) }
            // Columns land in a wider row, every third one dropped.
            var columns = [Int32](repeating: -1, count: n)
            for j in 0..<n where j % 3 != 2 { columns[j] = Int32(2 * j + 1) }
            for act in [ActivationKind.identity, .relu, .leakyReLU(slope: 0.1), .tanh, .sigmoid] {
                let stride = 2 * n + 4
                var want = [Float](repeating: 9, count: m * stride), got = want
                for i in 0..<m {
                    for j in 0..<n where columns[j] >= 0 {
                        var sum: Float = 0
                        for p in 0..<k { sum += a[i * k + p] * x[offsets[p] + Int(positions[j])] }
                        want[i * stride + Int(columns[j])] = act.value(sum + bias[i])
                    }
                }
                x.withUnsafeBufferPointer { xb in
                    offsets.withUnsafeBufferPointer { ob in
                        positions.withUnsafeBufferPointer { pb in
                            columns.withUnsafeBufferPointer { cb in
                                bias.withUnsafeBufferPointer { bb in
                                    multiply(m: m, n: n, k: k, a: a, transposeA: false,
                                             b: .implicit(xb.baseAddress!, offsets: ob.baseAddress!, positions: pb.baseAddress!),
                                             into: &got) {
                                        .init(base: $0, rowStride: stride, columns: cb.baseAddress!, bias: bb.baseAddress!, activation: act)
                                    }
                                }
                            }
                        }
                    }
                }
                let diff = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(diff, 1e-4 * Float(k).squareRoot(), "m \(m) k \(k) runs of \(run), \(act)")
            }
        }
    }

    /// A row vector times a matrix (the dense layer on one image): full blocks of 128 columns,
    /// a masked tail, and a leading dimension wider than the columns read.
    func testRowTimesMatrixMatchesNaive() throws { try onEveryPath(rowTimesMatrixMatchesNaive) }

    func rowTimesMatrixMatchesNaive() {
        var v = Values(state: 24)
        for (k, n) in [(100, 300), (3, 17), (16, 128)] {
            let ldw = n + 5
            let x = v.tensor([k]).data, w = v.tensor([k * ldw]).data
            var got = [Float](repeating: .nan, count: n), want = [Float](repeating: 0, count: n)
            XCTAssertTrue(FastGemm.rowTimesMatrix(k: k, n: n, x: x, w: w, ldw: ldw, y: &got))
            Gemm.gemmNaive(transposeA: false, transposeB: false, m: 1, n: n, k: k, a: x, lda: k, b: w, ldb: ldw, c: &want, ldc: n)
            XCTAssertLessThan(zip(got, want).map { abs($0 - $1) }.max()!, 1e-4, "k \(k) n \(n)")
        }
    }

    /// The C relu and leaky relu passes give Swift's values bit for bit, signed zeros and NaN
    /// included, and so does the fused store's relu.
    func testActivationEdgesAreSwifts() throws { try onEveryPath(activationEdgesAreSwifts) }

    func activationEdgesAreSwifts() {
        let x: [Float] = [-0.0, 0.0, .nan, -1.5, 2.5, -.infinity, .infinity, -Float.leastNormalMagnitude / 4]
        for a in [ActivationKind.relu, .leakyReLU(slope: 0.2)] {
            let got = a.applied(to: Tensor(shape: [x.count], data: x)).data
            let want = x.map { a.value($0) }
            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(a)")
        }
        // The store: a 1 x 1 identity "weight" times x, plus zero bias, then relu.
        var y = [Float](repeating: 7, count: x.count)
        let one: [Float] = [1]
        x.withUnsafeBufferPointer { xb in
            multiply(m: 1, n: x.count, k: 1, a: one, transposeA: false, b: .matrix(xb.baseAddress!, ld: x.count, transposed: false),
                     into: &y) { .init(base: $0, rowStride: x.count, activation: .relu) }
        }
        XCTAssertEqual(y.map(\.bitPattern), x.map { ActivationKind.relu.value($0 * 1 + 0) }.map(\.bitPattern))
    }

    func testRowOffsetSourceMatchesLoops() throws { try onEveryPath(rowOffsetSourceMatchesLoops) }

    func rowOffsetSourceMatchesLoops() {
        var v = Values(state: 23)
        let (m, n, k) = (10, 50, 7)
        let x = v.tensor([1000]).data, a = v.tensor([m * k]).data
        let offsets = (0..<k).map { 900 - $0 * 101 }
        var want = [Float](repeating: 0, count: m * n), got = want
        for i in 0..<m { for j in 0..<n { for p in 0..<k { want[i * n + j] += a[i * k + p] * x[offsets[p] + j] } } }
        x.withUnsafeBufferPointer { xb in
            offsets.withUnsafeBufferPointer { ob in
                multiply(m: m, n: n, k: k, a: a, transposeA: false, b: .rows(xb.baseAddress!, offsets: ob.baseAddress!),
                         into: &got) { .init(base: $0, rowStride: n) }
            }
        }
        XCTAssertLessThan(zip(got, want).map { abs($0 - $1) }.max()!, 1e-4)
    }
}
