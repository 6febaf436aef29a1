import XCTest
@testable import Tensor

/// The training hot path's loops against their plain references, bit for bit: they visit memory
/// in another order but add every value in the same order, so the results must be identical.
final class TrainingKernelTests: XCTestCase {
    typealias Values = KernelTests.Values

    /// Values in -1..<1 with exact zeros and a few of +-1e-3 among them (the kinks of relu and leaky relu).
    func mixed(_ shape: [Int], seed: UInt64) -> Tensor {
        var v = Values(state: seed)
        var t = v.tensor(shape)
        for i in stride(from: 0, to: t.count, by: 7) { t.data[i] = 0 }
        for i in stride(from: 3, to: t.count, by: 11) { t.data[i] = i % 2 == 0 ? 1e-3 : -1e-3 }
        return t
    }

    func assertIdentical(_ a: Tensor, _ b: Tensor, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
        XCTAssertEqual(a.data.map(\.bitPattern), b.data.map(\.bitPattern), message, file: file, line: line)
    }

    let activations: [ActivationKind] = [.identity, .relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid]

    func testActivationOutOfPlaceIsApplyInPlace() {
        let x = mixed([3, 5, 7, 6], seed: 1)
        for a in activations {
            var inPlace = x
            a.apply(&inPlace)
            assertIdentical(a.applied(to: x), inPlace, "\(a)")
        }
    }

    func testActivationBackwardIsNaive() {
        let dy = mixed([4, 6, 5, 5], seed: 2)
        for a in activations {
            let y = a.applied(to: mixed([4, 6, 5, 5], seed: 3))
            assertIdentical(a.backward(output: y, gradOutput: dy), a.backwardNaive(output: y, gradOutput: dy), "\(a)")
        }
    }

    func testBatchNormTrainingIsNaive() {
        // (N, C) as after a linear layer, and (N, C, H, W) as after a convolution.
        for (i, shape) in [[16, 37], [5, 6, 7, 3], [2, 1, 1, 1]].enumerated() {
            var v = Values(state: 10 + UInt64(i))
            let x = v.tensor(shape), dy = v.tensor(shape)
            let gamma = v.tensor([shape[1]]), beta = v.tensor([shape[1]])
            let (y, cache) = BatchNormTraining.forward(x, gamma: gamma, beta: beta, eps: 1e-5)
            let (y0, cache0) = BatchNormTraining.forwardNaive(x, gamma: gamma, beta: beta, eps: 1e-5)
            assertIdentical(y, y0, "forward \(shape)")
            assertIdentical(cache.normalised, cache0.normalised, "normalised \(shape)")
            XCTAssertEqual(cache.mean, cache0.mean, "\(shape)")
            XCTAssertEqual(cache.variance, cache0.variance, "\(shape)")
            XCTAssertEqual(cache.inverseStd, cache0.inverseStd, "\(shape)")
            var gg = v.tensor([shape[1]]), gb = v.tensor([shape[1]])
            var gg0 = gg, gb0 = gb
            let dx = BatchNormTraining.backward(dy, cache: cache, gamma: gamma, gradGamma: &gg, gradBeta: &gb)
            let dx0 = BatchNormTraining.backwardNaive(dy, cache: cache0, gamma: gamma, gradGamma: &gg0, gradBeta: &gb0)
            assertIdentical(dx, dx0, "backward \(shape)")
            assertIdentical(gg, gg0, "gamma gradient \(shape)")
            assertIdentical(gb, gb0, "beta gradient \(shape)")
        }
    }

    func testChannelSumsAreThePlainLoop() {
        for shape in [[9, 13], [4, 3, 5, 6]] {
            var v = Values(state: 20)
            let t = v.tensor(shape)
            var sums = v.tensor([shape[1]])
            var expected = sums
            let n = shape[0], c = shape[1], inner = t.count / (n * c)
            for ch in 0..<c {
                var s: Float = 0
                for img in 0..<n { for i in 0..<inner { s += t.data[(img * c + ch) * inner + i] } }
                expected.data[ch] += s
            }
            accumulateChannelSums(t, into: &sums)
            assertIdentical(sums, expected, "\(shape)")
        }
    }

    /// Strides 1-3, symmetric and one-sided padding, kernels wider than the stride: the column
    /// ranges that read padding start late, end early, or are empty.
    let geometries: [ConvGeometry] = [
        ConvGeometry(inChannels: 2, outChannels: 3, kernel: 4, stride: 2, padding: 1),
        ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 2),
        ConvGeometry(inChannels: 1, outChannels: 2, kernel: 5, stride: 3, padding: 0),
        ConvGeometry(inChannels: 2, outChannels: 2, kernelHeight: 3, kernelWidth: 4, strideHeight: 2, strideWidth: 3,
                     padding: Padding2D(top: 0, bottom: 2, left: 3, right: 0)),
        ConvGeometry(inChannels: 2, outChannels: 2, kernelHeight: 2, kernelWidth: 5, strideHeight: 1, strideWidth: 2,
                     padding: Padding2D(top: 1, bottom: 1, left: 0, right: 4)),
    ]

    func testIm2colIsTheGatherDefinition() {
        for g in geometries {
            let (h, w) = (7, 8)
            let (oh, ow) = g.convOutputSize(height: h, width: w)
            var v = Values(state: 30)
            let x = v.tensor([g.inChannels, h, w])
            var col = [Float](repeating: .nan, count: g.patchSize * oh * ow)
            x.data.withUnsafeBufferPointer { xb in
                col.withUnsafeMutableBufferPointer { cb in
                    Conv2d.im2col(xb.baseAddress!, height: h, width: w, geometry: g, outHeight: oh, outWidth: ow, into: cb.baseAddress!)
                }
            }
            var expected = [Float](repeating: 0, count: col.count)
            for c in 0..<g.inChannels {
                for ki in 0..<g.kernelHeight {
                    for kj in 0..<g.kernelWidth {
                        let row = (c * g.kernelHeight + ki) * g.kernelWidth + kj
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                let iy = oy * g.strideHeight - g.padding.top + ki, ix = ox * g.strideWidth - g.padding.left + kj
                                if iy >= 0, iy < h, ix >= 0, ix < w { expected[(row * oh + oy) * ow + ox] = x.data[(c * h + iy) * w + ix] }
                            }
                        }
                    }
                }
            }
            XCTAssertEqual(col.map(\.bitPattern), expected.map(\.bitPattern), "\(g)")
        }
    }

    func testCol2imIsTheScatterDefinition() {
        for g in geometries {
            let (h, w) = (5, 6)
            let (oh, ow) = g.transposedOutputSize(height: h, width: w)
            var v = Values(state: 40)
            let col = v.tensor([g.outChannels * g.kernelHeight * g.kernelWidth, h * w])
            let start = v.tensor([g.outChannels, oh, ow])
            var y = start.data
            col.data.withUnsafeBufferPointer { cb in
                y.withUnsafeMutableBufferPointer { yb in
                    ConvTranspose2d.col2im(cb.baseAddress!, height: h, width: w, geometry: g, outHeight: oh, outWidth: ow, into: yb.baseAddress!)
                }
            }
            var expected = start.data
            for o in 0..<g.outChannels {
                for ki in 0..<g.kernelHeight {
                    for kj in 0..<g.kernelWidth {
                        let row = (o * g.kernelHeight + ki) * g.kernelWidth + kj
                        for iy in 0..<h {
                            for ix in 0..<w {
                                let oy = iy * g.strideHeight - g.padding.top + ki, ox = ix * g.strideWidth - g.padding.left + kj
                                if oy >= 0, oy < oh, ox >= 0, ox < ow { expected[(o * oh + oy) * ow + ox] += col.data[row * h * w + iy * w + ix] }
                            }
                        }
                    }
                }
            }
            XCTAssertEqual(y.map(\.bitPattern), expected.map(\.bitPattern), "\(g)")
        }
    }
}
