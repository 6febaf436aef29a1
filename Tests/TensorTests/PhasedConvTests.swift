import XCTest
import Foundation
@testable import Tensor

/// `PhasedConv` (the fast path for conv2d, upsample + conv2d and conv-transpose2d, with bias and
/// activation fused) against the plain-loop references `Upsample.nearest` + `Conv2d.forwardNaive`
/// and `ConvTranspose2d.forwardNaive`, on the batch path (many images) and on the split path
/// (one image, phases and row bands over workers).
final class PhasedConvTests: VectorPathTestCase {
    typealias Values = KernelTests.Values
    let tolerance: Float = 1e-4

    func run(_ p: PhasedConv, _ x: Tensor, workers: Int) -> Tensor {
        let n = x.shape[0]
        var y = Tensor(zeros: [n, p.outChannels, p.outHeight, p.outWidth])
        var scratch = [Float](repeating: .nan, count: p.scratchPerWorker * workers)
        x.data.withUnsafeBufferPointer { xb in
            y.data.withUnsafeMutableBufferPointer { yb in
                scratch.withUnsafeMutableBufferPointer { sb in
                    p.forward(xb.baseAddress!, count: n, into: yb.baseAddress!, scratch: sb.baseAddress!, workers: workers)
                }
            }
        }
        return y
    }

    /// Runs `body` once with a policy for the gathering path and once with one for the
    /// shifted-product path (OpenBLAS; `testFastGemmPathMatchesNaive` covers FastGemm's).
    func bothPaths(_ body: (Bool, KernelPolicy) -> Void) {
        for shifted in [false, true] {
            body(shifted, KernelPolicy(fastGemm: false, shiftedSpareLimit: shifted ? 1e9 : -1e9))
        }
    }

    func check(_ p: PhasedConv, _ x: Tensor, _ reference: Tensor, _ label: String) {
        for workers in [1, 2, 3] {
            for n in Set([1, x.shape[0]]) {
                let xs = x.rows(0..<n), want = reference.rows(0..<n)
                let got = run(p, xs, workers: workers)
                XCTAssertEqual(got.shape, want.shape, label)
                XCTAssertLessThan(maxAbsDifference(got, want), tolerance, "\(label), \(n) images, \(workers) workers")
            }
        }
    }

    func testConvAndUpsampleThenConvMatchNaive() throws { try onEveryPath(convAndUpsampleThenConvMatchNaive) }

    func convAndUpsampleThenConvMatchNaive() {
        var v = Values(state: 7)
        let cases: [(ConvGeometry, Int)] = [
            (ConvGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 2), 1),
            (ConvGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 2), 2),
            (ConvGeometry(inChannels: 2, outChannels: 5, kernel: 3, stride: 1, padding: 1), 2),
            (ConvGeometry(inChannels: 2, outChannels: 3, kernel: 4, stride: 2, padding: 1), 1),
            (ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 0), 3),
            (ConvGeometry(inChannels: 2, outChannels: 3, kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 1,
                          padding: Padding2D(top: 1, bottom: 0, left: 2, right: 1)), 2),
        ]
        for (g, u) in cases {
            for act in [ActivationKind.identity, .relu, .tanh] {
                let x = v.tensor([3, g.inChannels, 5, 6])
                let w = v.tensor([g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
                var want = Conv2d.forwardNaive(Upsample.nearest(x, scale: u), weight: w, bias: b, geometry: g)
                act.apply(&want)
                bothPaths { shifted, policy in
                    let p = PhasedConv(conv: w, bias: b, geometry: g, upsample: u, inHeight: 5, inWidth: 6, activation: act,
                                       policy: policy)!
                    if g.strideHeight == 1 && g.strideWidth == 1 { XCTAssertEqual(p.engine == .shifted, shifted) }
                    check(p, x, want, "upsample \(u) then \(g) \(act), \(p.engine)")
                }
            }
        }
    }

    /// FastGemm's path (eight or more output channels on an AVX-512 CPU): one product per phase
    /// over the padded window, tables for the columns, the store fused. Batches with a short last
    /// group, and single images split by position bands (large phases) or channel bands (small
    /// ones, channel counts that are not whole panels), against the plain references.
    func testFastGemmPathMatchesNaive() throws { try onEveryPath(fastGemmPathMatchesNaive) }

    func fastGemmPathMatchesNaive() throws {
        try XCTSkipUnless(FastGemm.supported, "FastGemm is off (no vector path on this CPU, or FORGER_NO_FAST_GEMM): FastGemm is not used")
        let policy = KernelPolicy(fastGemm: true, channelVectorMinimumChannels: .max)   // FastGemm for every channel count
        var v = Values(state: 11)
        let convs: [(ConvGeometry, Int, Int)] = [   // geometry, upsample, input side
            (ConvGeometry(inChannels: 5, outChannels: 8, kernel: 3, stride: 1, padding: 2), 1, 17),
            (ConvGeometry(inChannels: 3, outChannels: 13, kernel: 3, stride: 1, padding: 2), 2, 9),
            (ConvGeometry(inChannels: 4, outChannels: 20, kernel: 3, stride: 1, padding: 1), 2, 3),
            (ConvGeometry(inChannels: 3, outChannels: 9, kernel: 4, stride: 2, padding: 1), 1, 12),
        ]
        for (g, u, side) in convs {
            for act in [ActivationKind.relu, .leakyReLU(slope: 0.2), .sigmoid] {
                let x = v.tensor([5, g.inChannels, side, side])
                let w = v.tensor([g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
                var want = Conv2d.forwardNaive(Upsample.nearest(x, scale: u), weight: w, bias: b, geometry: g)
                act.apply(&want)
                let p = PhasedConv(conv: w, bias: b, geometry: g, upsample: u, inHeight: side, inWidth: side, activation: act,
                                   policy: policy)!
                XCTAssertEqual(p.engine, .fastGemm)
                check(p, x, want, "fast: upsample \(u) then \(g) \(act)")
            }
        }
        // A depth above the kernel's slice of 128 (partial sums between slices), and five output
        // channels (a part of one panel; up to four take the direct kernel).
        for deep in [ConvGeometry(inChannels: 40, outChannels: 16, kernel: 4, stride: 2, padding: 1),
                     ConvGeometry(inChannels: 40, outChannels: 5, kernel: 4, stride: 2, padding: 1)] {
        for act in [ActivationKind.identity, .tanh] {
            let x = v.tensor([3, 40, 7, 7])
            let w = v.tensor([40, deep.outChannels, 4, 4]), b = v.tensor([deep.outChannels])
            var want = ConvTranspose2d.forwardNaive(x, weight: w, bias: b, geometry: deep)
            act.apply(&want)
            let p = PhasedConv(convTranspose: w, bias: b, geometry: deep, inHeight: 7, inWidth: 7, activation: act, policy: policy)!
            XCTAssertEqual(p.engine, .fastGemm)
            check(p, x, want, "fast: \(deep) \(act)")
        }
        }
    }

    /// The channel-vector kernel (16 or more output channels on an AVX-512 CPU; here from one, to
    /// cover lanes past the channels): 1, 2 and 4 vectors a tile, rows split into tiles of
    /// columns, depths above a slice, blocks of channels that are not whole, strided stores for
    /// the phases of an upsample or a conv-transpose, phases with no taps; batches and single
    /// images in bands, against the plain references, and bit for bit against FastGemm (the same
    /// sums in the same order), so that switching kernels moves no pixel. A strided conv stays on
    /// FastGemm.
    func testChannelVectorPathMatchesNaiveAndFastGemm() throws { try onEveryPath(channelVectorPathMatchesNaiveAndFastGemm) }

    func channelVectorPathMatchesNaiveAndFastGemm() throws {
        try XCTSkipUnless(FastGemm.supported, "FastGemm is off (no vector path on this CPU, or FORGER_NO_FAST_GEMM): the channel-vector kernel is not used")
        var v = Values(state: 13)
        func both(_ make: (KernelPolicy) -> PhasedConv, _ x: Tensor, _ want: Tensor, vectors: Int, _ label: String) {
            let p = make(KernelPolicy(fastGemm: true, channelVectorMinimumChannels: 1))
            XCTAssertEqual(p.engine, vectors > 0 ? .channelVectors(vectorsPerTile: vectors) : .fastGemm, label)
            check(p, x, want, "channel vectors: " + label)
            let q = make(KernelPolicy(fastGemm: true, channelVectorMinimumChannels: .max))
            XCTAssertEqual(q.engine, .fastGemm, label)
            for workers in [1, 2] {
                let (a, b) = (run(p, x, workers: workers).data, run(q, x, workers: workers).data)
                XCTAssertEqual(zip(a, b).filter { $0.0.bitPattern != $0.1.bitPattern }.count, 0, "bit for bit: \(label)")
            }
        }
        let convs: [(ConvGeometry, Int, Int, Int)] = [   // geometry, upsample, input side, vectors
            // 32 columns: 3 tiles; a depth of 144, above a slice of 128 steps (partial sums between).
            (ConvGeometry(inChannels: 16, outChannels: 20, kernel: 3, stride: 1, padding: 2), 1, 30, 2),
            // 3 columns a phase; a depth of 20 x 4 taps, above a slice of 64 steps. Four vectors
            // where a tile of four holds 3 columns (AVX-512), else two.
            (ConvGeometry(inChannels: 20, outChannels: 70, kernel: 3, stride: 1, padding: 1), 2, 3,
             FastGemm.path == .avx512 ? 4 : 2),
            (ConvGeometry(inChannels: 4, outChannels: 9, kernel: 3, stride: 1, padding: 2), 1, 40, 1),    // 42 columns: 2 tiles
            (ConvGeometry(inChannels: 3, outChannels: 24, kernel: 4, stride: 2, padding: 1), 1, 12, 0),   // strided: FastGemm
        ]
        for (g, u, side, vectors) in convs {
            for act in [ActivationKind.relu, .tanh] {
                let x = v.tensor([3, g.inChannels, side, side])
                let w = v.tensor([g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
                var want = Conv2d.forwardNaive(Upsample.nearest(x, scale: u), weight: w, bias: b, geometry: g)
                act.apply(&want)
                both({ PhasedConv(conv: w, bias: b, geometry: g, upsample: u, inHeight: side, inWidth: side, activation: act,
                                  policy: $0)! },
                     x, want, vectors: vectors, "upsample \(u) then \(g) \(act)")
            }
        }
        let transposed: [(ConvGeometry, Int)] = [
            (ConvGeometry(inChannels: 40, outChannels: 16, kernel: 4, stride: 2, padding: 1), 1),
            (ConvGeometry(inChannels: 3, outChannels: 17, kernel: 2, stride: 3, padding: 0, outputPadding: 2), 2),   // taps-less phases
        ]
        for (g, vectors) in transposed {
            for act in [ActivationKind.identity, .sigmoid, .leakyReLU(slope: 0.2)] {
                let x = v.tensor([3, g.inChannels, 7, 8])
                let w = v.tensor([g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
                var want = ConvTranspose2d.forwardNaive(x, weight: w, bias: b, geometry: g)
                act.apply(&want)
                both({ PhasedConv(convTranspose: w, bias: b, geometry: g, inHeight: 7, inWidth: 8, activation: act, policy: $0)! },
                     x, want, vectors: vectors, "\(g) \(act)")
            }
        }
    }

    /// The direct kernel (one to four output channels on an AVX-512 CPU): blocks of rows and 16
    /// columns straight from the unpadded input, lanes outside it masked, strided stores for the
    /// phases of an upsample or a conv-transpose. Rows that are not whole blocks, rows wider than
    /// 16 columns, phases with no taps, single images split into bands, against the references.
    func testDirectPathMatchesNaive() throws { try onEveryPath(directPathMatchesNaive) }

    func directPathMatchesNaive() throws {
        try XCTSkipUnless(FastGemm.supported, "FastGemm is off (no vector path on this CPU, or FORGER_NO_FAST_GEMM): the direct kernel is not used")
        // Single images inline, and split into bands of rows over the workers.
        func check(_ make: (KernelPolicy) -> PhasedConv, _ x: Tensor, _ want: Tensor, _ label: String, direct: Bool) {
            for split in [Int.max, 0] {
                let p = make(KernelPolicy(fastGemm: true, directMaximumChannels: 4, directSplitMultiplyAdds: split))
                XCTAssertEqual(p.engine == .direct, direct, label)
                self.check(p, x, want, label + (split == 0 ? ", split" : ""))
            }
        }
        var v = Values(state: 12)
        let convs: [(ConvGeometry, Int, Int, Int)] = [   // geometry, upsample, input height, width
            (ConvGeometry(inChannels: 6, outChannels: 1, kernel: 3, stride: 1, padding: 2), 1, 19, 26),
            (ConvGeometry(inChannels: 3, outChannels: 2, kernel: 3, stride: 1, padding: 0), 1, 11, 35),
            (ConvGeometry(inChannels: 2, outChannels: 3, kernel: 5, stride: 1, padding: 1), 1, 9, 7),
            (ConvGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 1), 2, 10, 9),
            (ConvGeometry(inChannels: 2, outChannels: 5, kernelHeight: 3, kernelWidth: 2, strideHeight: 1, strideWidth: 1,
                          padding: Padding2D(top: 2, bottom: 0, left: 1, right: 3)), 1, 13, 18),
        ]
        for (g, u, h, w) in convs {
            for act in [ActivationKind.identity, .sigmoid, .leakyReLU(slope: 0.2)] {
                let x = v.tensor([3, g.inChannels, h, w])
                let wt = v.tensor([g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
                var want = Conv2d.forwardNaive(Upsample.nearest(x, scale: u), weight: wt, bias: b, geometry: g)
                act.apply(&want)
                check({ PhasedConv(conv: wt, bias: b, geometry: g, upsample: u, inHeight: h, inWidth: w, activation: act,
                                   policy: $0)! },
                      x, want, "direct: upsample \(u) then \(g) \(act)", direct: g.outChannels <= 4)
            }
        }
        let transposed: [ConvGeometry] = [
            ConvGeometry(inChannels: 5, outChannels: 1, kernel: 4, stride: 2, padding: 1),
            ConvGeometry(inChannels: 3, outChannels: 3, kernel: 4, stride: 2, padding: 1),
            ConvGeometry(inChannels: 2, outChannels: 2, kernel: 2, stride: 3, padding: 0, outputPadding: 2),   // taps-less phases
        ]
        for g in transposed {
            for act in [ActivationKind.tanh, .relu] {
                let x = v.tensor([3, g.inChannels, 9, 20])
                let wt = v.tensor([g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
                var want = ConvTranspose2d.forwardNaive(x, weight: wt, bias: b, geometry: g)
                act.apply(&want)
                check({ PhasedConv(convTranspose: wt, bias: b, geometry: g, inHeight: 9, inWidth: 20, activation: act,
                                   policy: $0)! },
                      x, want, "direct: \(g) \(act)", direct: true)
            }
        }
    }

    func testUpsampleTwoThenThreeByThreeCostsFourNinths() throws { try onEveryPath(upsampleTwoThenThreeByThreeCostsFourNinths) }

    func upsampleTwoThenThreeByThreeCostsFourNinths() {
        var v = Values(state: 8)
        let g = ConvGeometry(inChannels: 4, outChannels: 2, kernel: 3, stride: 1, padding: 1)
        let p = PhasedConv(conv: v.tensor([2, 4, 3, 3]), bias: nil, geometry: g, upsample: 2, inHeight: 6, inWidth: 6,
                           activation: .identity, policy: .openBLAS)!
        XCTAssertEqual(p.phases.count, 4)
        XCTAssertEqual(p.engine, .shifted)
        XCTAssertEqual(p.multiplyAdds * 9, 12 * 12 * 4 * 2 * 9 * 4)
    }

    func testConvTransposeMatchesNaive() throws { try onEveryPath(convTransposeMatchesNaive) }

    func convTransposeMatchesNaive() {
        var v = Values(state: 9)
        let cases: [ConvGeometry] = [
            ConvGeometry(inChannels: 4, outChannels: 3, kernel: 4, stride: 2, padding: 1),
            ConvGeometry(inChannels: 4, outChannels: 3, kernel: 4, stride: 1, padding: 0),
            ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1, outputPadding: 1),
            ConvGeometry(inChannels: 3, outChannels: 2, kernelHeight: 3, kernelWidth: 4, strideHeight: 2, strideWidth: 3,
                         padding: Padding2D(top: 0, bottom: 1, left: 1, right: 0), outputPaddingHeight: 1, outputPaddingWidth: 2),
            ConvGeometry(inChannels: 2, outChannels: 2, kernel: 2, stride: 3, padding: 0, outputPadding: 2),
        ]
        for g in cases {
            for act in [ActivationKind.identity, .relu, .sigmoid] {
                let x = v.tensor([3, g.inChannels, 5, 4])
                let w = v.tensor([g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
                var want = ConvTranspose2d.forwardNaive(x, weight: w, bias: b, geometry: g)
                act.apply(&want)
                bothPaths { shifted, policy in
                    let p = PhasedConv(convTranspose: w, bias: b, geometry: g, inHeight: 5, inWidth: 4, activation: act, policy: policy)!
                    XCTAssertEqual(p.engine, shifted ? .shifted : .im2col)
                    check(p, x, want, "\(g) \(act), \(p.engine)")
                }
            }
        }
    }

    func testScatterConvTransposeMatchesNaive() throws { try onEveryPath(scatterConvTransposeMatchesNaive) }

    func scatterConvTransposeMatchesNaive() {
        var v = Values(state: 10)
        let cases: [ConvGeometry] = [
            ConvGeometry(inChannels: 4, outChannels: 3, kernel: 4, stride: 2, padding: 1),
            ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1, outputPadding: 1),
            ConvGeometry(inChannels: 3, outChannels: 2, kernelHeight: 3, kernelWidth: 4, strideHeight: 2, strideWidth: 3,
                         padding: Padding2D(top: 0, bottom: 1, left: 1, right: 0), outputPaddingHeight: 1, outputPaddingWidth: 2),
            // A crop so wide that no input column reaches the output through every kernel column.
            ConvGeometry(inChannels: 2, outChannels: 2, kernelHeight: 2, kernelWidth: 6, strideHeight: 1, strideWidth: 1,
                         padding: Padding2D(top: 0, bottom: 0, left: 4, right: 4)),
        ]
        for g in cases {
            for act in [ActivationKind.identity, .relu, .tanh] {
                let x = v.tensor([5, g.inChannels, 5, 4])
                let w = v.tensor([g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
                var want = ConvTranspose2d.forwardNaive(x, weight: w, bias: b, geometry: g)
                act.apply(&want)
                let p = ScatterConvTranspose(weight: w, bias: b, geometry: g, inHeight: 5, inWidth: 4, activation: act)
                for workers in [1, 2, 3] {
                    for n in [1, 5] {
                        var y = Tensor(zeros: want.rows(0..<n).shape)
                        var scratch = [Float](repeating: .nan, count: p.scratchPerWorker * workers)
                        x.data.withUnsafeBufferPointer { xb in
                            y.data.withUnsafeMutableBufferPointer { yb in
                                scratch.withUnsafeMutableBufferPointer { sb in
                                    p.forward(xb.baseAddress!, count: n, into: yb.baseAddress!, scratch: sb.baseAddress!, workers: workers)
                                }
                            }
                        }
                        XCTAssertLessThan(maxAbsDifference(y, want.rows(0..<n)), tolerance, "\(g) \(act), \(n) images, \(workers) workers")
                    }
                }
            }
        }
    }

    func testFastTanhAndSigmoidMatchLibm() throws { try onEveryPath(fastTanhAndSigmoidMatchLibm) }

    func fastTanhAndSigmoidMatchLibm() {
        var worst: Float = 0
        for i in -40_000...40_000 {
            let x = Float(i) / 2000   // -20 ... 20
            worst = max(worst, abs(ActivationKind.fastTanh(x) - Foundation.tanh(x)))
            worst = max(worst, abs(ActivationKind.sigmoid.value(x) - 1 / (1 + Foundation.exp(-x))))
        }
        XCTAssertLessThan(worst, 1e-6)
        XCTAssertEqual(ActivationKind.fastTanh(0), 0)
    }
}
