import XCTest
import Tensor
import NN
import ModelIO

/// The compiled inference plan (fused steps, reused buffers) against PyTorch's outputs on every
/// fixture (Tools/make_fixtures.py), one image at a time: the path that splits phases and row
/// bands of one image over workers rather than images.
final class PlanTests: XCTestCase {
    func testOneImageAtATimeMatchesPyTorch() throws {
        for name in ["mlp", "theano_mnist", "dcgan_small", "options"] {
            let dir = ParityTests.fixture(name)
            let model = try ModelStore.load(dir)
            let z = try NPY.read(dir.appendingPathComponent("input.npy"))
            let want = try NPY.read(dir.appendingPathComponent("expected.npy"))
            for g in [model.generator, model.inferenceGenerator] {
                for i in 0..<z.shape[0] {
                    let got = g.forward(z.rows(i..<(i + 1)))
                    XCTAssertLessThan(maxAbsDifference(got, want.rows(i..<(i + 1))), ParityTests.tolerance, "\(name) image \(i)")
                }
                // Warm buffers from a larger batch must not leak into a smaller one.
                XCTAssertLessThan(maxAbsDifference(g.forward(z), want), ParityTests.tolerance, name)
            }
        }
    }

    func testPlanComputesFourNinthsForUpsampleThenConv() throws {
        let g = try ModelStore.load(ParityTests.fixture("theano_mnist")).inferenceGenerator
        XCTAssertLessThan(g.plannedMultiplyAddsPerImage, g.multiplyAddsPerImage)
    }
}
