import XCTest
@testable import Tensor

/// Backward kernels at the sizes of the 64-px DCGAN's outer layers, fast against naive.
final class LargeBackwardTests: XCTestCase {
    func testConvBackwardAt64Pixels() {
        var v = KernelTests.Values(state: 9)
        let g = ConvGeometry(inChannels: 3, outChannels: 4, kernel: 4, stride: 2, padding: 1)
        let x = v.tensor([3, 3, 64, 64]), w = v.tensor([4, 3, 4, 4]), dy = v.tensor([3, 4, 32, 32])
        var gw1 = Tensor(zeros: w.shape), gw2 = Tensor(zeros: w.shape)
        var gb1: Tensor? = Tensor(zeros: [4]), gb2: Tensor? = Tensor(zeros: [4])
        let dx1 = Conv2dBackward.backward(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw1, gradBias: &gb1, needInputGradient: true)!
        let dx2 = Conv2dBackward.backwardNaive(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw2, gradBias: &gb2)
        XCTAssertLessThan(maxAbsDifference(dx1, dx2), 1e-3)
        XCTAssertLessThan(maxAbsDifference(gw1, gw2), 1e-2)
    }

    func testConvTransposeBackwardAt64Pixels() {
        var v = KernelTests.Values(state: 10)
        let g = ConvGeometry(inChannels: 4, outChannels: 3, kernel: 4, stride: 2, padding: 1)
        let x = v.tensor([3, 4, 32, 32]), w = v.tensor([4, 3, 4, 4]), dy = v.tensor([3, 3, 64, 64])
        var gw = Tensor(zeros: w.shape)
        var gb: Tensor? = nil
        let dx = ConvTranspose2dBackward.backward(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw, gradBias: &gb, needInputGradient: true)!
        // A transposed convolution's input gradient is the convolution of dY with the same
        // weight read as (out: C, in: O, kh, kw).
        let adjoint = ConvGeometry(inChannels: 3, outChannels: 4, kernel: 4, stride: 2, padding: 1)
        let expected = Conv2d.forwardNaive(dy, weight: w, bias: nil, geometry: adjoint)
        XCTAssertEqual(dx.shape, expected.shape)
        XCTAssertLessThan(maxAbsDifference(dx, expected), 1e-3)
        // Weight gradient: sum over images and positions of x[c] * dY[o] at the tap's offset,
        // checked for one (c, o, ki, kj) against the definition.
        var sum: Float = 0
        let (c, o, ki, kj) = (1, 2, 3, 0)
        for img in 0..<3 { for iy in 0..<32 { for ix in 0..<32 {
            let oy = iy * 2 - 1 + ki, ox = ix * 2 - 1 + kj
            if oy < 0 || oy >= 64 || ox < 0 || ox >= 64 { continue }
            sum += x.data[((img * 4 + c) * 32 + iy) * 32 + ix] * dy.data[((img * 3 + o) * 64 + oy) * 64 + ox]
        } } }
        XCTAssertEqual(gw.data[((c * 3 + o) * 4 + ki) * 4 + kj], sum, accuracy: 1e-2)
    }
}
