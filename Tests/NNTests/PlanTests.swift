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

    /// A row's output does not depend on the batch around it, bit for bit: `--shard` and batch
    /// sizes promise the same files. Nine rows put four or more on each of two workers (one
    /// product) and one row alone takes the single-row path of the dense layers. This holds on
    /// FastGemm and the direct kernel, on every vector path this CPU runs; OpenBLAS's sums depend
    /// on the product's shape.
    /// The last generator ends as benchmark C and the shipped fashion model do (a conv-transpose
    /// to one channel), which once took phases alone and a scatter in batches of eight or more.
    func testRowsAreIdenticalAloneAndInABatch() throws {
        try XCTSkipIf(FastGemm.vectorPaths.isEmpty, "no vector path on this CPU: OpenBLAS's sums depend on the batch")
        try FastGemm.forEachVectorPath { path in try rowsAreIdenticalAloneAndInABatch(path) }
    }

    func rowsAreIdenticalAloneAndInABatch(_ path: FastGemm.Path) throws {
        var seed: UInt64 = 5
        func values(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(seed >> 40) - (1 << 23)) / Float(1 << 23)
            }
        }
        func tensor(_ shape: [Int]) -> Tensor { Tensor(shape: shape, data: values(shape.reduce(1, *))) }
        let upConv = { (c: Int, o: Int) in ConvGeometry(inChannels: c, outChannels: o, kernel: 4, stride: 2, padding: 1) }
        let cLike = try Generator(latentSize: 8, layers: [
            .linear(weight: tensor([16 * 7 * 7, 8]), bias: tensor([16 * 7 * 7])), .activation(.relu), .reshape([16, 7, 7]),
            .convTranspose2d(weight: tensor([16, 8, 4, 4]), bias: tensor([8]), geometry: upConv(16, 8)), .activation(.relu),
            .convTranspose2d(weight: tensor([8, 1, 4, 4]), bias: tensor([1]), geometry: upConv(8, 1)), .activation(.tanh),
        ])
        let fixtures = try ["mlp", "dcgan_small", "theano_mnist", "options"].map {
            ($0, try ModelStore.load(ParityTests.fixture($0)).inferenceGenerator)
        }
        for (name, g) in fixtures + [("C-like", cLike)] {
            let z = Tensor(shape: [9, g.latentSize], data: values(9 * g.latentSize))
            let batch = g.forward(z)
            for i in [0, 4, 8] {
                XCTAssertEqual(g.forward(z.rows(i..<(i + 1))).data, batch.rows(i..<(i + 1)).data, "\(name) row \(i), \(path.name)")
            }
        }
    }

    func testPlanComputesFourNinthsForUpsampleThenConv() throws {
        let g = try ModelStore.load(ParityTests.fixture("theano_mnist")).inferenceGenerator
        XCTAssertLessThan(g.plannedMultiplyAddsPerImage, g.multiplyAddsPerImage)
    }
}

extension PlanTests {
    /// `LoadedModel.inferenceGenerator` folds on every access; the fold is kept so a render loop
    /// that asks for it per frame reuses one compiled plan.
    func testFoldingIsComputedOnce() throws {
        let model = try ModelStore.load(ParityTests.fixture("dcgan_small"))
        let a = model.inferenceGenerator, b = model.inferenceGenerator
        XCTAssertEqual(a.layers.count, b.layers.count)
        guard case .convTranspose2d(let wa, _, _) = a.layers[0], case .convTranspose2d(let wb, _, _) = b.layers[0] else {
            return XCTFail("first layer is not a conv-transpose")
        }
        wa.data.withUnsafeBufferPointer { pa in
            wb.data.withUnsafeBufferPointer { pb in XCTAssertEqual(pa.baseAddress, pb.baseAddress, "one folded copy") }
        }
    }
}

extension PlanTests {
    /// Batches large enough for the plan's batch-only paths (the conv-transpose scatter) against
    /// the naive kernels, which the parity tests hold to PyTorch.
    func testLargeBatchMatchesNaive() throws {
        for name in ["theano_mnist", "dcgan_small", "options"] {
            let dir = ParityTests.fixture(name)
            let g = try ModelStore.load(dir).inferenceGenerator
            let z = try NPY.read(dir.appendingPathComponent("input.npy"))
            let big = Tensor.concatenateRows([z, z, z, z])   // 12 or more rows
            XCTAssertLessThan(maxAbsDifference(g.forward(big), g.forward(big, naive: true)), ParityTests.tolerance, name)
        }
    }
}
