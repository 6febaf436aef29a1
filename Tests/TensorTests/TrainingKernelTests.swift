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
}
