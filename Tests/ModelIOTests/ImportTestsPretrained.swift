import Foundation
import XCTest
import ModelIO
import Tensor

/// Imports the three real generators in ../shared/data/pretrained (beside the package root)
/// with the specs in Tools/specs and compares their outputs with PyTorch's on fixed latents
/// (Fixtures/import/pretrained, written by Tools/pretrained_reference.py with torch 1.13).
/// Skips, saying so, where the checkpoints are absent; the same readers and layers are covered
/// by ImportTests' fixtures.
final class ImportTestsPretrained: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    var tmp: URL!
    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("forger-pretrained-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    private func checkpoint(_ name: String) throws -> URL {
        let folder = Self.root.deletingLastPathComponent().appendingPathComponent("shared/data/pretrained")
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("\(url.path) is absent; skipping the real-model import check (fixtures cover the same code)")
        }
        return url
    }

    /// Returns the largest difference from PyTorch, after asserting it is within 1e-4.
    @discardableResult
    private func check(_ file: String, spec: String, reference: String, format: String,
                       line: UInt = #line) throws -> Float {
        let dir = tmp.appendingPathComponent(reference)
        try ModelImporter.run(ImportRequest(checkpoint: try checkpoint(file),
                                            architecture: .spec(Self.root.appendingPathComponent("Tools/specs/\(spec)"))), to: dir)
        let model = try ModelStore.load(dir)
        XCTAssertEqual(model.manifest.training?["format"], .string(format), line: line)
        let fixtures = ImportTests.folder.appendingPathComponent("pretrained")
        let z = try NPY.read(fixtures.appendingPathComponent("\(reference)_input.npy"))
        let want = try NPY.read(fixtures.appendingPathComponent("\(reference)_expected.npy"))
        let labelsURL = fixtures.appendingPathComponent("\(reference)_labels.json")
        let labels = FileManager.default.fileExists(atPath: labelsURL.path)
            ? try JSONDecoder().decode([Int].self, from: Data(contentsOf: labelsURL)) : nil
        var worst: Float = 0
        for generator in [model.generator, model.inferenceGenerator] {
            let got = generator.forward(z, labels: labels)
            guard got.shape == want.shape else { XCTFail("\(file): shape \(got.shape), PyTorch \(want.shape)", line: line); continue }
            worst = max(worst, maxAbsDifference(got, want))
        }
        XCTAssertLessThan(worst, 1e-4, "\(file): Forger vs PyTorch", line: line)
        print("\(file): max |Forger - PyTorch| = \(worst)")
        return worst
    }

    func testCsinvaMLP() throws {
        try check("csinva_mnist_gan_mlp_G--300.ckpt", spec: "csinva_mnist_mlp.json", reference: "csinva_mnist_mlp", format: "pytorch-legacy")
    }

    func testCsinvaMLPThroughThePreset() throws {
        let dir = tmp.appendingPathComponent("preset")
        try ModelImporter.run(ImportRequest(checkpoint: try checkpoint("csinva_mnist_gan_mlp_G--300.ckpt"), architecture: .mlp(MLPPreset())), to: dir)
        let fixtures = ImportTests.folder.appendingPathComponent("pretrained")
        let got = try ModelStore.load(dir).generator.forward(try NPY.read(fixtures.appendingPathComponent("csinva_mnist_mlp_input.npy")))
        XCTAssertLessThan(maxAbsDifference(got, try NPY.read(fixtures.appendingPathComponent("csinva_mnist_mlp_expected.npy"))), 1e-4)
    }

    func testFletcherCelebADCGAN() throws {
        try check("fletchersarip93_celeba32_dcgan_generator.pt", spec: "fletchersarip93_celeba32_dcgan.json",
                  reference: "fletchersarip93_celeba32_dcgan", format: "pytorch-legacy")
    }

    func testHayatoHongoConditional() throws {
        try check("HayatoHongo_mnist_cond_wgangp_generator.pth", spec: "hayatohongo_mnist_cond.json",
                  reference: "hayatohongo_mnist_cond", format: "pytorch-zip")
    }
}
