import XCTest
@testable import Tensor

/// Every fast kernel against its plain-loop reference, on small seeded inputs.
final class KernelTests: XCTestCase {
    /// A tiny deterministic generator for test data (values in -1..<1).
    struct Values {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
        mutating func tensor(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in next() })
        }
    }

    let tolerance: Float = 1e-4

    func testGemmMatchesNaiveForAllTranspositions() {
        var v = Values(state: 1)
        let (m, n, k) = (7, 5, 9)
        let a = v.tensor([m * k]), b = v.tensor([k * n])
        for ta in [false, true] {
            for tb in [false, true] {
                var fast = [Float](repeating: 0.5, count: m * n), slow = fast
                let lda = ta ? m : k, ldb = tb ? k : n
                Gemm.sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 1.5, a: a.data, lda: lda,
                           b: b.data, ldb: ldb, beta: 0.25, c: &fast, ldc: n)
                Gemm.gemmNaive(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 1.5, a: a.data, lda: lda,
                               b: b.data, ldb: ldb, beta: 0.25, c: &slow, ldc: n)
                XCTAssertLessThan(maxAbsDifference(Tensor(shape: [m * n], data: fast), Tensor(shape: [m * n], data: slow)),
                                  tolerance, "transposeA \(ta) transposeB \(tb)")
            }
        }
    }

    func testConv2dMatchesNaive() {
        var v = Values(state: 2)
        let cases: [ConvGeometry] = [
            ConvGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 1),
            ConvGeometry(inChannels: 2, outChannels: 5, kernel: 3, stride: 1, padding: 2),
            ConvGeometry(inChannels: 3, outChannels: 2, kernel: 4, stride: 2, padding: 1),
            ConvGeometry(inChannels: 4, outChannels: 3, kernel: 1),
            ConvGeometry(inChannels: 2, outChannels: 3, kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 1,
                         padding: Padding2D(top: 1, bottom: 0, left: 2, right: 1)),
            // Padding wider than the kernel: whole column rows and lines fall in the padding.
            ConvGeometry(inChannels: 2, outChannels: 2, kernelHeight: 2, kernelWidth: 2, strideHeight: 3, strideWidth: 3,
                         padding: Padding2D(top: 3, bottom: 4, left: 3, right: 5)),
        ]
        for g in cases {
            let x = v.tensor([3, g.inChannels, 7, 6])
            let w = v.tensor([g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth])
            let b = v.tensor([g.outChannels])
            let fast = Conv2d.forward(x, weight: w, bias: b, geometry: g)
            let slow = Conv2d.forwardNaive(x, weight: w, bias: b, geometry: g)
            XCTAssertEqual(fast.shape, slow.shape)
            XCTAssertLessThan(maxAbsDifference(fast, slow), tolerance, "\(g)")
        }
    }

    func testConvTranspose2dMatchesNaive() {
        var v = Values(state: 3)
        let cases: [ConvGeometry] = [
            ConvGeometry(inChannels: 4, outChannels: 3, kernel: 4, stride: 1, padding: 0),
            ConvGeometry(inChannels: 3, outChannels: 2, kernel: 4, stride: 2, padding: 1),
            ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1, outputPadding: 1),
            ConvGeometry(inChannels: 3, outChannels: 2, kernelHeight: 3, kernelWidth: 4, strideHeight: 2, strideWidth: 3,
                         padding: Padding2D(top: 0, bottom: 1, left: 1, right: 0), outputPaddingHeight: 1, outputPaddingWidth: 2),
            // Cropping a whole kernel's reach on every side: edge inputs land nowhere.
            ConvGeometry(inChannels: 2, outChannels: 2, kernel: 2, stride: 2, padding: 2),
        ]
        for g in cases {
            let x = v.tensor([2, g.inChannels, 5, 4])
            let w = v.tensor([g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth])
            let b = v.tensor([g.outChannels])
            let fast = ConvTranspose2d.forward(x, weight: w, bias: b, geometry: g)
            let slow = ConvTranspose2d.forwardNaive(x, weight: w, bias: b, geometry: g)
            XCTAssertEqual(fast.shape, slow.shape)
            XCTAssertLessThan(maxAbsDifference(fast, slow), tolerance, "\(g)")
        }
    }

    func testLinearMatchesNaiveOnLargeBatch() {
        var v = Values(state: 4)
        let x = v.tensor([33, 12]), w = v.tensor([7, 12]), b = v.tensor([7])
        XCTAssertLessThan(maxAbsDifference(Linear.forward(x, weight: w, bias: b),
                                           Linear.forwardNaive(x, weight: w, bias: b)), tolerance)
    }

    func testUpsampleNearestRepeatsEachPixel() {
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let y = Upsample.nearest(x, scale: 2)
        XCTAssertEqual(y.shape, [1, 1, 4, 4])
        XCTAssertEqual(y.data, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    }

    func testBatchNormAffineMatchesDefinition() {
        let mean = Tensor(shape: [2], data: [1, -2]), variance = Tensor(shape: [2], data: [4, 0.25])
        let gamma = Tensor(shape: [2], data: [2, 1]), beta = Tensor(shape: [2], data: [0.5, -1])
        let (scale, shift) = BatchNormInference.affine(gamma: gamma, beta: beta, mean: mean, variance: variance, eps: 0)
        var t = Tensor(shape: [1, 2, 1, 2], data: [3, 5, -2, 0])
        BatchNormInference.apply(&t, scale: scale, shift: shift)
        // (3-1)/2*2+0.5 = 2.5; (5-1)/2*2+0.5 = 4.5; (-2+2)/0.5-1 = -1; (0+2)/0.5-1 = 3
        for (got, want) in zip(t.data, [Float(2.5), 4.5, -1, 3]) { XCTAssertEqual(got, want, accuracy: 1e-6) }
    }

    /// Replaces the first occurrence of an ASCII pattern in the header bytes.
    func replacing(_ old: String, with new: String, in bytes: [UInt8]) -> [UInt8] {
        let o = Array(old.utf8), n = Array(new.utf8)
        var out = bytes
        for i in 0...(bytes.count - o.count) where Array(bytes[i..<(i + o.count)]) == o {
            out.replaceSubrange(i..<(i + o.count), with: n)
            return out
        }
        XCTFail("pattern \(old) not found")
        return out
    }

    func testActivations() {
        var t = Tensor(shape: [4], data: [-2, -0.5, 0, 3])
        ActivationKind.leakyReLU(slope: 0.2).apply(&t)
        XCTAssertEqual(t.data, [-0.4, -0.1, 0, 3])
        var s = Tensor(shape: [1], data: [0])
        ActivationKind.sigmoid.apply(&s)
        XCTAssertEqual(s.data[0], 0.5, accuracy: 1e-7)
    }

    func testNPYRoundTripAndRefusals() throws {
        let t = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6.5])
        let bytes = NPY.encode(t)
        XCTAssertEqual(bytes.count % 64, (6 * 4) % 64, "header is padded to 64 bytes")
        XCTAssertEqual(try NPY.decode(bytes), t)
        var bad = bytes; bad[1] = 0
        XCTAssertThrowsError(try NPY.decode(bad)) { XCTAssertTrue("\($0)".contains("bad magic")) }
        XCTAssertThrowsError(try NPY.decode(replacing("False", with: "True ", in: bytes))) {
            XCTAssertTrue("\($0)".contains("Fortran"))
        }
        XCTAssertThrowsError(try NPY.decode(replacing("<f4", with: "<i4", in: bytes))) { XCTAssertTrue("\($0)".contains("<i4")) }
        XCTAssertThrowsError(try NPY.decode(Array(bytes.dropLast(4)))) { XCTAssertTrue("\($0)".contains("bytes of data")) }
    }
}
