import XCTest
@testable import Tensor

/// The training kernels' FastGemm paths (FastConv): conv2d and conv-transpose2d forward, and the
/// input gradients of both, against the plain references, at channel counts that take them
/// (eight or more outputs) and sizes that need an output padding to restore the input's size.
final class FastConvTests: VectorPathTestCase {
    typealias Values = KernelTests.Values

    override func setUpWithError() throws {
        try XCTSkipIf(FastGemm.vectorPaths.isEmpty, "no vector path on this CPU: FastGemm is not used")
    }

    /// Few images and few columns: the weight gradient splits images over workers and sums
    /// their partial gradients (the first layer of a discriminator: one input channel).
    func testWeightGradientSplitByImagesMatchesNaive() throws { try onEveryPath(weightGradientSplitByImagesMatchesNaive) }

    func weightGradientSplitByImagesMatchesNaive() {
        var v = Values(state: 33)
        let g = ConvGeometry(inChannels: 1, outChannels: 8, kernel: 4, stride: 2, padding: 1)
        for n in [1, 5] {
            let x = v.tensor([n, 1, 10, 10]), w = v.tensor([8, 1, 4, 4]), dy = v.tensor([n, 8, 5, 5])
            var gw1 = Tensor(zeros: w.shape), gw2 = gw1
            var gb2: Tensor? = nil
            XCTAssertTrue(FastConv.weightGradient(dy, x, geometry: g, into: &gw1))
            _ = Conv2dBackward.backwardNaive(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw2, gradBias: &gb2)
            XCTAssertLessThan(maxAbsDifference(gw1, gw2), 1e-4, "\(n) images")
        }
    }

    func testConvForwardAndInputGradientMatchNaive() throws { try onEveryPath(convForwardAndInputGradientMatchNaive) }

    func convForwardAndInputGradientMatchNaive() {
        var v = Values(state: 31)
        for (g, side) in [(ConvGeometry(inChannels: 9, outChannels: 16, kernel: 4, stride: 2, padding: 1), 14),
                          (ConvGeometry(inChannels: 8, outChannels: 12, kernel: 3, stride: 2, padding: 1), 8),
                          (ConvGeometry(inChannels: 10, outChannels: 8, kernel: 3, stride: 1, padding: 1), 6)] {
            let x = v.tensor([3, g.inChannels, side, side])
            let w = v.tensor([g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
            XCTAssertNotNil(FastConv.conv(x, weight: w, bias: b, geometry: g), "\(g) takes FastGemm")
            let y = Conv2d.forward(x, weight: w, bias: b, geometry: g)
            XCTAssertLessThan(maxAbsDifference(y, Conv2d.forwardNaive(x, weight: w, bias: b, geometry: g)), 1e-4, "\(g)")
            let dy = v.tensor(y.shape)
            XCTAssertNotNil(FastConv.convInputGradient(dy, weight: w, geometry: g, height: side, width: side))
            var gw1 = Tensor(zeros: w.shape), gw2 = gw1
            var gb1: Tensor? = Tensor(zeros: [g.outChannels]), gb2 = gb1
            let dx1 = Conv2dBackward.backward(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw1, gradBias: &gb1)!
            let dx2 = Conv2dBackward.backwardNaive(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw2, gradBias: &gb2)
            XCTAssertEqual(dx1.shape, x.shape)
            XCTAssertLessThan(maxAbsDifference(dx1, dx2), 1e-4, "\(g) input gradient")
            XCTAssertLessThan(maxAbsDifference(gw1, gw2), 1e-3, "\(g) weight gradient")
        }
    }

    func testConvTransposeForwardAndInputGradientMatchNaive() throws { try onEveryPath(convTransposeForwardAndInputGradientMatchNaive) }

    func convTransposeForwardAndInputGradientMatchNaive() {
        var v = Values(state: 32)
        for (g, side) in [(ConvGeometry(inChannels: 12, outChannels: 8, kernel: 4, stride: 2, padding: 1), 7),
                          (ConvGeometry(inChannels: 8, outChannels: 9, kernel: 3, stride: 2, padding: 1, outputPadding: 1), 5)] {
            let x = v.tensor([3, g.inChannels, side, side])
            let w = v.tensor([g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth]), b = v.tensor([g.outChannels])
            XCTAssertNotNil(FastConv.convTranspose(x, weight: w, bias: b, geometry: g), "\(g) takes FastGemm")
            let y = ConvTranspose2d.forward(x, weight: w, bias: b, geometry: g)
            XCTAssertLessThan(maxAbsDifference(y, ConvTranspose2d.forwardNaive(x, weight: w, bias: b, geometry: g)), 1e-4, "\(g)")
            let dy = v.tensor(y.shape)
            XCTAssertNotNil(FastConv.convTransposeInputGradient(dy, weight: w, geometry: g, height: side, width: side))
            var gw = Tensor(zeros: w.shape), gwBLAS = gw
            var gb: Tensor? = Tensor(zeros: [g.outChannels]), gbBLAS = gb
            let dx = ConvTranspose2dBackward.backward(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gw, gradBias: &gb)!
            // The weight gradient against the im2col + OpenBLAS path (itself checked against the
            // definition in LargeBackwardTests).
            _ = ConvTranspose2dBackward.backward(input: x, weight: w, gradOutput: dy, geometry: g, gradWeight: &gwBLAS,
                                                 gradBias: &gbBLAS, policy: .openBLAS)
            XCTAssertLessThan(maxAbsDifference(gw, gwBLAS), 1e-3, "\(g) weight gradient")
            XCTAssertLessThan(maxAbsDifference(gb!, gbBLAS!), 1e-4, "\(g) bias gradient")
            // The adjoint: a conv2d of dY with the same weight read as (out: C, in: O, kh, kw).
            let adjoint = ConvGeometry(inChannels: g.outChannels, outChannels: g.inChannels, kernel: g.kernelHeight,
                                       stride: g.strideHeight, padding: g.padding.top)
            XCTAssertLessThan(maxAbsDifference(dx, Conv2d.forwardNaive(dy, weight: w, bias: nil, geometry: adjoint)), 1e-4, "\(g)")
        }
    }
}
