import XCTest
import Foundation
import ModelIO
import Tensor
@testable import ForgerCLI

/// `forger import` and `forger export` in-process, and through the built binary for exit codes.
final class ImportCommandTests: CommandTestCase {
    static func fixture(_ name: String) -> String {
        CLITests.packageRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures/import/\(name)").path
    }



    func testImportWithPresetThenSampleMatchesPyTorch() throws {
        let dir = tmp.appendingPathComponent("m").path, out = tmp.appendingPathComponent("y.npy").path
        try run(["import", Self.fixture("mlp_legacy.pt"), "--preset", "mlp", "--activation", "leakyrelu:0.2",
                 "--output-activation", "sigmoid", "--prior", "uniform:-1:1", "--name", "tiny", "-o", dir, "-q"])
        try run(["sample", dir, "--latents", Self.fixture("mlp_input.npy"), "--out-npy", out, "-q"])
        let got = try NPY.read(URL(fileURLWithPath: out)), want = try NPY.read(URL(fileURLWithPath: Self.fixture("mlp_expected.npy")))
        XCTAssertLessThan(maxAbsDifference(got, want), 1e-4)
        let m = try ModelStore.load(URL(fileURLWithPath: dir)).manifest
        XCTAssertEqual(m.name, "tiny")
        XCTAssertEqual(m.distribution, .uniform(low: -1, high: 1))
    }

    func testRangeTakesANegativeLowerBound() throws {
        let dir = tmp.appendingPathComponent("m").path
        try run(["import", Self.fixture("dcgan_zip.pt"), "--preset", "dcgan", "--output-range=-1..1", "-o", dir, "-q"])
        XCTAssertTrue(try ModelStore.load(URL(fileURLWithPath: dir)).manifest.outputRange == (-1, 1))
    }

    func testConditionalImportSamplesWithClass() throws {
        let dir = tmp.appendingPathComponent("c").path, png = tmp.appendingPathComponent("g.png").path
        try run(["import", Self.fixture("cond_zip.pt"), "--arch", Self.fixture("cond_spec.json"), "-o", dir, "-q"])
        try run(["sample", dir, "-n", "4", "--class", "2", "-o", png, "-q"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))
    }

    func testOptionsAreCheckedBeforeAnything() {
        for (args, message) in [
            (["import", "x.pt", "-o", "d"], "--arch model.json, or --preset"),
            (["import", "x.pt", "--arch", "a.json", "--preset", "dcgan", "-o", "d"], "not both"),
            (["import", "x.pt", "--preset", "mlp", "--nz", "3", "-o", "d"], "belong to --preset dcgan"),
            (["import", "x.pt", "--preset", "dcgan"], "-o MODELDIR"),
            (["import", "x.pt", "--list", "-o", "d"], "--list writes nothing"),
        ] {
            XCTAssertThrowsError(try Forger.parseAsRoot(args), "\(args)") { error in
                XCTAssertTrue(Forger.message(for: error).contains(message), "\(args): \(Forger.message(for: error))")
            }
        }
    }

    func testExportThenReimportGivesTheSameModel() throws {
        let dir = tmp.appendingPathComponent("d").path, file = tmp.appendingPathComponent("d.safetensors").path
        try run(["import", Self.fixture("dcgan_zip.pt"), "--preset", "dcgan", "-o", dir, "-q"])
        try run(["export", dir, "-o", file, "-q"])
        let again = tmp.appendingPathComponent("again").path
        try run(["import", file, "--preset", "dcgan", "-o", again, "-q"])
        let z = try NPY.read(URL(fileURLWithPath: Self.fixture("dcgan_input.npy")))
        let a = try ModelStore.load(URL(fileURLWithPath: dir)).generator.forward(z)
        let b = try ModelStore.load(URL(fileURLWithPath: again)).generator.forward(z)
        XCTAssertEqual(maxAbsDifference(a, b), 0)
    }

    // MARK: the built binary

    func testListPrintsEveryTensor() throws {
        let r = try exec(["import", "--list", Self.fixture("dcgan_zip.pt")])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.out.contains("pytorch-zip, 25 tensors"), r.out)
        XCTAssertTrue(r.out.contains("main.0.weight"), r.out)
        let counter = r.out.split(separator: "\n").first { $0.hasPrefix("main.1.num_batches_tracked ") }
        XCTAssertEqual(counter?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().joined(separator: " "), "I64 ()", r.out)
    }

    func testFailuresExitNonZeroAndWriteNothing() throws {
        let dir = tmp.appendingPathComponent("out").path
        let bad = tmp.appendingPathComponent("bad.pt")
        try Data(try Data(contentsOf: URL(fileURLWithPath: Self.fixture("dcgan_zip.pt"))).prefix(5000)).write(to: bad)
        for args in [["import", bad.path, "--preset", "dcgan", "-o", dir],
                     ["import", Self.fixture("dcgan_zip.pt"), "--preset", "dcgan", "--ngf", "3", "-o", dir],
                     ["import", Self.fixture("cond_zip.pt"), "--arch", Self.fixture("nope.json"), "-o", dir]] {
            let r = try exec(args)
            XCTAssertNotEqual(r.code, 0, "\(args)")
            XCTAssertFalse(r.err.isEmpty, "\(args): no message")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "\(args) left \(dir)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), ["bad.pt"], "\(args) left files")
        }
    }

}
