import XCTest
import Tensor
import NN
import ModelIO

/// The engine against PyTorch: fixtures made by Tools/make_fixtures.py (Debian python3-torch,
/// eval mode, float32). Each fixture holds a model, latents and PyTorch's outputs.
final class ParityTests: XCTestCase {
    static let tolerance: Float = 1e-4

    static func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    struct Expected: Decodable {
        let multiply_adds: Int
        let parameters: Int?
    }

    static func expected(_ name: String) throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture(name).appendingPathComponent("expected.json")))
    }

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = Self.fixture(name)
        let model = try ModelStore.load(dir)
        let z = try NPY.read(dir.appendingPathComponent("input.npy"))
        let want = try NPY.read(dir.appendingPathComponent("expected.npy"))
        let plain = model.generator.forward(z)
        let folded = model.inferenceGenerator.forward(z)
        let naive = model.generator.forward(z, naive: true)
        XCTAssertEqual(plain.shape, want.shape, file: file, line: line)
        XCTAssertLessThan(maxAbsDifference(plain, want), Self.tolerance, "\(name): engine vs PyTorch", file: file, line: line)
        XCTAssertLessThan(maxAbsDifference(folded, want), Self.tolerance, "\(name): folded batch norm vs PyTorch", file: file, line: line)
        XCTAssertLessThan(maxAbsDifference(naive, want), Self.tolerance, "\(name): naive kernels vs PyTorch", file: file, line: line)
        let counts = try Self.expected(name)
        XCTAssertEqual(model.generator.multiplyAddsPerImage, counts.multiply_adds, "\(name): multiply-adds", file: file, line: line)
        if let p = counts.parameters {
            XCTAssertEqual(model.generator.parameterCount, p, "\(name): parameters", file: file, line: line)
        }
    }

    func testDenseLayersFlattenReshapeAndActivations() throws { try check("mlp") }
    func testTheanoPostStackUpsampleThenConvPadding2() throws { try check("theano_mnist") }
    func testPytorchExamplesDCGAN() throws { try check("dcgan_small") }
    func testEveryGeometryOption() throws { try check("options") }

    func testConditionalModels() throws {
        for name in ["cond_concat", "cond_multiply"] {
            let dir = Self.fixture(name)
            let model = try ModelStore.load(dir)
            let z = try NPY.read(dir.appendingPathComponent("input.npy"))
            let labels = try NPY.read(dir.appendingPathComponent("labels.npy")).data.map { Int($0) }
            let want = try NPY.read(dir.appendingPathComponent("expected.npy"))
            XCTAssertLessThan(maxAbsDifference(model.inferenceGenerator.forward(z, labels: labels), want), Self.tolerance, name)
            let weights = try NPY.read(dir.appendingPathComponent("class_weights.npy"))
            let wantMix = try NPY.read(dir.appendingPathComponent("expected_mix.npy"))
            XCTAssertLessThan(maxAbsDifference(model.inferenceGenerator.forward(z, classWeights: weights), wantMix), Self.tolerance,
                              "\(name): mixed class embeddings")
            XCTAssertEqual(model.generator.multiplyAddsPerImage, try Self.expected(name).multiply_adds)
            XCTAssertEqual(model.generator.parameterCount, try Self.expected(name).parameters)
        }
    }

    func testFoldingRemovesBatchNormLayers() throws {
        let model = try ModelStore.load(Self.fixture("dcgan_small"))
        let before = model.generator.layers.filter { if case .batchNorm = $0 { return true } else { return false } }.count
        let after = model.inferenceGenerator.layers.filter { if case .batchNorm = $0 { return true } else { return false } }.count
        XCTAssertEqual(before, 4)
        XCTAssertEqual(after, 0)
    }

    func testBatchedSlicesEqualOneBatch() throws {
        let dir = Self.fixture("theano_mnist")
        let g = try ModelStore.load(dir).inferenceGenerator
        let z = try NPY.read(dir.appendingPathComponent("input.npy"))
        XCTAssertLessThan(maxAbsDifference(g.forward(z, batchSize: 3), g.forward(z)), 1e-6)
    }

    /// The full pytorch/examples netG (nz 100, ngf 64): its manifest only, with zero weights,
    /// for the multiply-add count (104,628,224 per image, counted by PyTorch hooks).
    func testFullDCGANMultiplyAdds() throws {
        let dir = Self.fixture("dcgan_full")
        let manifest = try ModelManifest.parse(Data(contentsOf: dir.appendingPathComponent("model.json")), path: "dcgan_full")
        let tensors = try ModelStore.placeholderTensors(for: manifest)
        let g = try ModelStore.build(manifest, tensors: tensors, path: "zeros", manifestPath: "dcgan_full")
        XCTAssertEqual(g.multiplyAddsPerImage, try Self.expected("dcgan_full").multiply_adds)
        XCTAssertEqual(g.multiplyAddsPerImage, 104_628_224)
    }
}

