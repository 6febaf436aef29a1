import Foundation
import XCTest
import ModelIO

/// Reads the real generator checkpoints in ../shared/data/pretrained (next to the package root)
/// when that folder exists; skips, saying so, where it does not.
final class CheckpointTestsPretrained: XCTestCase {
    private func pretrained(_ name: String) throws -> URL {
        // #filePath is <root>/Tests/ModelIOTests/<this file>.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.deletingLastPathComponent().appendingPathComponent("shared/data/pretrained")
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw XCTSkip("no pretrained checkpoints at \(folder.path); skipping the real-file checks")
        }
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("\(url.path) is missing; skipping") }
        return url
    }

    private struct Reference: Decodable {
        struct Tensor: Decodable { var name: String; var shape: [Int]; var first: [Double]; var sum: Double }
        var files: [String: [Tensor]]
    }

    /// Compares with the values torch 1.13 read from the same file (pretrained_expected.json,
    /// written by Tools/make_checkpoint_fixtures.py): names, shapes, first values, sums.
    private func assertMatchesTorch(_ tensors: [(name: String, record: TensorRecord)], file name: String,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let url = CheckpointFixtures.url("pretrained_expected.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let expected = try XCTUnwrap(reference.files[name], "no reference for \(name)", file: file, line: line)
        XCTAssertEqual(tensors.map(\.name), expected.map(\.name), file: file, line: line)
        for (got, want) in zip(tensors, expected) {
            XCTAssertEqual(got.record.shape, want.shape, got.name, file: file, line: line)
            for (a, b) in zip(got.record.values, want.first) where !close(Double(a), b) {
                XCTFail("\(got.name): first values \(got.record.values.prefix(3)), torch says \(want.first)", file: file, line: line)
            }
            // Both sums add the same float32 values in double precision; only the order differs.
            let sum = got.record.values.reduce(0.0) { $0 + Double($1) }
            let magnitude = got.record.values.reduce(0.0) { $0 + abs(Double($1)) }
            XCTAssertLessThanOrEqual(abs(sum - want.sum), 1e-9 * max(1, magnitude),
                          "\(got.name): sum \(sum), torch says \(want.sum)", file: file, line: line)
        }
    }

    private func shapes(_ tensors: [(name: String, record: TensorRecord)]) -> [String: [Int]] {
        Dictionary(tensors.map { ($0.name, $0.record.shape) }, uniquingKeysWith: { a, _ in a })
    }

    private func assertFinite(_ tensors: [(name: String, record: TensorRecord)], file: StaticString = #filePath, line: UInt = #line) {
        for (name, record) in tensors where !record.values.allSatisfy(\.isFinite) {
            XCTFail("\(name) holds non-finite values", file: file, line: line)
        }
    }

    func testCsinvaLegacyMLP() throws {
        let tensors = try PyTorchCheckpoint.read(try pretrained("csinva_mnist_gan_mlp_G--300.ckpt"))
        try assertMatchesTorch(tensors, file: "csinva_mnist_gan_mlp_G--300.ckpt")
        XCTAssertEqual(tensors.map(\.name), ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
        let s = shapes(tensors)
        XCTAssertEqual(s["0.weight"], [256, 64])
        XCTAssertEqual(s["4.weight"], [784, 256])
        XCTAssertEqual(s["4.bias"], [784])
        assertFinite(tensors)
    }

    func testFletcherLegacyDCGAN() throws {
        let tensors = try PyTorchCheckpoint.read(try pretrained("fletchersarip93_celeba32_dcgan_generator.pt"))
        try assertMatchesTorch(tensors, file: "fletchersarip93_celeba32_dcgan_generator.pt")
        XCTAssertEqual(tensors.count, 26)
        let s = shapes(tensors)
        XCTAssertEqual(s["generator_deconv.0.0.weight"], [100, 256, 4, 4])
        XCTAssertEqual(s["generator_deconv.4.0.weight"], [32, 3, 4, 4])
        let tracked = try XCTUnwrap(tensors.first { $0.name == "generator_deconv.0.1.num_batches_tracked" })
        XCTAssertEqual(tracked.record.dtype, .i64)
        XCTAssertEqual(tracked.record.shape, [])
        assertFinite(tensors)
    }

    func testHayatoZipConditionalGenerator() throws {
        let tensors = try PyTorchCheckpoint.read(try pretrained("HayatoHongo_mnist_cond_wgangp_generator.pth"))
        try assertMatchesTorch(tensors, file: "HayatoHongo_mnist_cond_wgangp_generator.pth")
        XCTAssertEqual(tensors.count, 24)
        XCTAssertEqual(tensors.first?.name, "label_emb.weight")
        let s = shapes(tensors)
        XCTAssertEqual(s["label_emb.weight"], [10, 10])
        XCTAssertEqual(s["l1.0.weight"], [6272, 20])
        XCTAssertEqual(s["conv_blocks.9.weight"], [1, 64, 3, 3])
        assertFinite(tensors)
        print(PyTorchCheckpoint.describe(Array(tensors.prefix(3))))
    }
}
