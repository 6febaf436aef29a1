import Foundation
import XCTest
import ModelIO
import NN
import Tensor

/// Imports the small checkpoints of Tools/make_import_fixtures.py (written by torch 1.13) and
/// compares Forger's outputs with PyTorch's, within 1e-4.
final class ImportTests: XCTestCase {
    static var folder: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("import") }
    static func fixture(_ name: String) -> URL { folder.appendingPathComponent(name) }

    var tmp: URL!
    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("forger-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// Imports into a fresh directory, loads it back as any model is loaded, runs the fixture's
    /// latents and returns the largest difference from PyTorch's outputs.
    @discardableResult
    func importAndCompare(_ request: ImportRequest, fixture: String, labels: [Int]? = nil,
                          file: StaticString = #filePath, line: UInt = #line) throws -> LoadedModel {
        let dir = tmp.appendingPathComponent(fixture + "-model")
        try ModelImporter.run(request, to: dir)
        let model = try ModelStore.load(dir)
        let z = try NPY.read(Self.fixture(fixture + "_input.npy"))
        let want = try NPY.read(Self.fixture(fixture + "_expected.npy"))
        for generator in [model.generator, model.inferenceGenerator] {
            let got = generator.forward(z, labels: labels)
            guard got.shape == want.shape else { XCTFail("\(fixture): shape \(got.shape), PyTorch \(want.shape)", file: file, line: line); continue }
            XCTAssertLessThan(maxAbsDifference(got, want), 1e-4, "\(fixture): Forger vs PyTorch", file: file, line: line)
        }
        return model
    }

    func testDCGANPresetReadsItsSizesFromAZipCheckpoint() throws {
        let model = try importAndCompare(ImportRequest(checkpoint: Self.fixture("dcgan_zip.pt"), architecture: .dcgan(DCGANPreset())),
                                         fixture: "dcgan")
        let m = model.manifest
        XCTAssertEqual(m.latentSize, 8)
        XCTAssertEqual(m.latentShape, [8, 1, 1])
        XCTAssertEqual([m.outputChannels, m.outputHeight, m.outputWidth], [3, 64, 64])
        XCTAssertEqual(m.name, "dcgan_zip")
        XCTAssertEqual(m.training?["format"], .string("pytorch-zip"))
        XCTAssertEqual(m.training?["imported_from"], .string("dcgan_zip.pt"))
        let bytes = try Data(contentsOf: Self.fixture("dcgan_zip.pt"))
        XCTAssertEqual(m.training?["sha256"], .string(SHA256.hex(bytes)))
        // Only the tensors the layers use, as float32: no num_batches_tracked.
        let written = try SafeTensors.read(model.directory.appendingPathComponent(ModelStore.weightsFile))
        XCTAssertEqual(written.count, 5 + 4 * 4)
        XCTAssertTrue(written.allSatisfy { $0.record.dtype == .f32 && !$0.name.hasSuffix("num_batches_tracked") })
    }

    func testNestedLegacyCheckpointWithKeyAndStrippedPrefix() throws {
        let request = ImportRequest(checkpoint: Self.fixture("dcgan_nested_legacy.pt"), key: "netG",
                                    renames: [TensorRename(prefix: "module.", replacement: "")],
                                    architecture: .dcgan(DCGANPreset(nz: 8, ngf: 2, nc: 3)), name: "nested",
                                    prior: .uniform(low: -1, high: 1))
        let model = try importAndCompare(request, fixture: "dcgan")
        XCTAssertEqual(model.manifest.training?["format"], .string("pytorch-legacy"))
        XCTAssertEqual(model.manifest.training?["key"], .string("netG"))
        XCTAssertEqual(model.manifest.distribution, .uniform(low: -1, high: 1))
        XCTAssertEqual(model.manifest.name, "nested")
    }

    func testAPrefixedCheckpointSuggestsStripPrefix() throws {
        let request = ImportRequest(checkpoint: Self.fixture("dcgan_nested_legacy.pt"), key: "netG", architecture: .dcgan(DCGANPreset()))
        assertImportFails(request, mentions: ["main.0.weight", "--strip-prefix module."])
    }

    func testDCGANSizesThatDisagreeWithTheTensorsNameTheTensorAndBothShapes() throws {
        let request = ImportRequest(checkpoint: Self.fixture("dcgan_zip.pt"), architecture: .dcgan(DCGANPreset(nz: 9)))
        assertImportFails(request, mentions: ["dcgan_zip.pt", "tensor 'main.0.weight'", "(9, 16, 4, 4)", "(8, 16, 4, 4)", "--nz"])
    }

    func testMLPPresetWithBatchNormFromALegacyCheckpoint() throws {
        let preset = MLPPreset(activation: .leakyReLU(slope: 0.2), outputActivation: .sigmoid)
        let model = try importAndCompare(ImportRequest(checkpoint: Self.fixture("mlp_legacy.pt"), architecture: .mlp(preset)), fixture: "mlp")
        let m = model.manifest
        XCTAssertEqual([m.outputChannels, m.outputHeight, m.outputWidth], [3, 4, 4], "48 outputs are a 3x4x4 image")
        XCTAssertTrue(m.outputRange == (0, 1), "sigmoid output is recorded as [0, 1]")
        XCTAssertEqual(m.layers.map(\.typeName), ["linear", "batchnorm", "leakyrelu", "linear", "sigmoid", "reshape"])
        XCTAssertEqual(m.training?["format"], .string("pytorch-legacy"))
    }

    func testMLPPresetFromSafeTensorsUnderAKey() throws {
        let preset = MLPPreset(activation: .leakyReLU(slope: 0.2), outputActivation: .sigmoid, channels: 3, height: 4, width: 4)
        let model = try importAndCompare(ImportRequest(checkpoint: Self.fixture("mlp_prefixed.safetensors"), key: "netG",
                                                       architecture: .mlp(preset)), fixture: "mlp")
        XCTAssertEqual(model.manifest.training?["format"], .string("safetensors"))
    }

    func testMLPImageShapeThatDoesNotFitIsRefused() {
        let preset = MLPPreset(activation: .leakyReLU(slope: 0.2), outputActivation: .sigmoid, channels: 1, height: 5, width: 5)
        assertImportFails(ImportRequest(checkpoint: Self.fixture("mlp_legacy.pt"), architecture: .mlp(preset)),
                          mentions: ["tensor '3.weight'", "48"])
    }

    func testConditionalSpecJoinsTheLabelFirst() throws {
        let labels = try JSONDecoder().decode([Int].self, from: Data(contentsOf: Self.fixture("cond_labels.json")))
        let model = try importAndCompare(ImportRequest(checkpoint: Self.fixture("cond_zip.pt"), architecture: .spec(Self.fixture("cond_spec.json"))),
                                         fixture: "cond", labels: labels)
        XCTAssertEqual(model.manifest.conditioning?.join, .concatLabelFirst)
        XCTAssertEqual(model.manifest.name, "tiny-cond", "a spec's name is kept")
        XCTAssertEqual(model.generator.conditioning?.classes, 3)
    }

    func testSpecWhoseShapesDisagreeNamesTheTensorAndBothShapes() throws {
        var text = try String(contentsOf: Self.fixture("cond_spec.json"), encoding: .utf8)
        text = text.replacingOccurrences(of: "\"out\": 32", with: "\"out\": 33")
        let spec = tmp.appendingPathComponent("spec.json")
        try text.write(to: spec, atomically: true, encoding: .utf8)
        assertImportFails(ImportRequest(checkpoint: Self.fixture("cond_zip.pt"), architecture: .spec(spec)),
                          mentions: ["cond_zip.pt", "fc.weight", "(33, 9)", "(32, 9)"])
    }

    func testSpecNamingAMissingTensorIsRefused() throws {
        var text = try String(contentsOf: Self.fixture("cond_spec.json"), encoding: .utf8)
        text = text.replacingOccurrences(of: "\"body.2.weight\"", with: "\"body.5.weight\"")
        let spec = tmp.appendingPathComponent("spec.json")
        try text.write(to: spec, atomically: true, encoding: .utf8)
        assertImportFails(ImportRequest(checkpoint: Self.fixture("cond_zip.pt"), architecture: .spec(spec)), mentions: ["body.5.weight"])
    }

    func testHostileAndDamagedFilesWriteNothing() throws {
        let zip = try Data(contentsOf: Self.fixture("dcgan_zip.pt"))
        let legacy = try Data(contentsOf: Self.fixture("mlp_legacy.pt"))
        var flipped = zip
        flipped[zip.count / 2] ^= 0xFF   // a storage's CRC no longer matches
        let cases: [(String, Data)] = [
            ("truncated.pt", zip.prefix(zip.count / 2)), ("crc.pt", flipped),
            ("legacy_truncated.pt", legacy.prefix(legacy.count - 100)),
            ("garbage.pt", Data("definitely not a checkpoint".utf8)), ("empty.pt", Data()),
            ("safetensors_truncated.safetensors", try Data(contentsOf: Self.fixture("mlp_prefixed.safetensors")).prefix(300)),
        ]
        for (name, bytes) in cases {
            let file = tmp.appendingPathComponent(name)
            try bytes.write(to: file)
            assertImportFails(ImportRequest(checkpoint: file, architecture: .dcgan(DCGANPreset())), mentions: [name])
        }
        assertImportFails(ImportRequest(checkpoint: tmp.appendingPathComponent("absent.pt"), architecture: .dcgan(DCGANPreset())),
                          mentions: ["absent.pt"])
    }

    func testAnExistingFolderIsKeptUnlessReplaced() throws {
        let dir = tmp.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false)
        try Data("mine".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let request = ImportRequest(checkpoint: Self.fixture("dcgan_zip.pt"), architecture: .dcgan(DCGANPreset()))
        XCTAssertThrowsError(try ModelImporter.run(request, to: dir)) { XCTAssertTrue("\($0)".contains("--force"), "\($0)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["notes.txt"])
        try ModelImporter.run(request, to: dir, replace: true)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), ["notes.txt", "model.json", "weights.safetensors"])
    }

    func testExportWritesWhatTheOriginalStateDictHolds() throws {
        let dir = tmp.appendingPathComponent("dcgan")
        try ModelImporter.run(ImportRequest(checkpoint: Self.fixture("dcgan_zip.pt"), architecture: .dcgan(DCGANPreset())), to: dir)
        let out = tmp.appendingPathComponent("dcgan.safetensors")
        try ModelExport.run(dir, to: out)
        let exported = try SafeTensors.read(out)
        let original = try PyTorchCheckpoint.read(Self.fixture("dcgan_zip.pt"))
        // Same names, dtypes and shapes as torch's state_dict (num_batches_tracked included), same weights.
        XCTAssertEqual(Set(exported.map(\.name)), Set(original.map(\.name)))
        let byName = Dictionary(uniqueKeysWithValues: exported.map { ($0.name, $0.record) })
        for (name, record) in original {
            let e = try XCTUnwrap(byName[name], name)
            XCTAssertEqual(e.shape, record.shape, name)
            XCTAssertEqual(e.dtype, record.dtype, name)
            if record.dtype == .f32 { XCTAssertEqual(e.values, record.values, name) }
        }
        XCTAssertThrowsError(try ModelExport.run(dir, to: out)) { XCTAssertTrue("\($0)".contains("--force"), "\($0)") }
    }

    func testOptionValues() throws {
        XCTAssertEqual(try LatentDistribution(argument: "uniform:-1:1"), .uniform(low: -1, high: 1))
        XCTAssertEqual(try LatentDistribution(argument: "normal"), .normal)
        XCTAssertThrowsError(try LatentDistribution(argument: "uniform:1:-1"))
        XCTAssertTrue(try parseOutputRange("0..1") == (0, 1))
        XCTAssertThrowsError(try parseOutputRange("0:1"))
        XCTAssertThrowsError(try parseOutputRange("1"))
        XCTAssertEqual(try parseActivation("leakyrelu:0.2", option: "--activation"), .leakyReLU(slope: 0.2))
        XCTAssertThrowsError(try parseActivation("gelu", option: "--activation")) { XCTAssertTrue("\($0)".contains("leakyrelu:SLOPE")) }
        XCTAssertEqual(try TensorRename(argument: "module.="), TensorRename(prefix: "module.", replacement: ""))
        XCTAssertThrowsError(try TensorRename(argument: "nothing"))
    }

    /// The import must fail, say each of `mentions`, and leave the temporary folder as it was.
    func assertImportFails(_ request: ImportRequest, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        let before = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
        let dir = tmp.appendingPathComponent("should-not-exist")
        XCTAssertThrowsError(try ModelImporter.run(request, to: dir), file: file, line: line) { error in
            for m in mentions { XCTAssertTrue("\(error)".contains(m), "message lacks '\(m)': \(error)", file: file, line: line) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path), "a failed import left \(dir.path)", file: file, line: line)
        let after = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
        XCTAssertEqual(Set(after), Set(before), "a failed import left files behind", file: file, line: line)
    }
}
