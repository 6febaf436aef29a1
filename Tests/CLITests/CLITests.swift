import XCTest
import Foundation
import Imaging
import Tensor
@testable import ForgerCLI

/// Commands in-process (parse, then run), plus a few runs of the built binary for exit codes.
final class CLITests: CommandTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static func fixture(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/NNTests/Fixtures/\(name)").path
    }



    /// FORGER_ISA forces a vector path: the path each runs gives PyTorch's outputs, and a path
    /// this CPU cannot run, or no path by that name, stops the command with a message and exit 2.
    func testForgerISAForcesAPathOrRefusesClearly() throws {
        let dir = Self.fixture("theano_mnist")
        let want = try NPY.read(URL(fileURLWithPath: dir + "/expected.npy"))
        for path in FastGemm.vectorPaths + [.none] {
            let out = tmp.appendingPathComponent("y-\(path.name).npy").path
            let r = try exec(["sample", dir, "--latents", dir + "/input.npy", "--out-npy", out, "--quiet"],
                             environment: ["FORGER_ISA": path.name])
            XCTAssertEqual(r.code, 0, path.name + ": " + r.err)
            XCTAssertLessThan(maxAbsDifference(try NPY.read(URL(fileURLWithPath: out)), want), 1e-4, path.name)
        }
        let unrunnable = FastGemm.Path.allCases.filter { $0 != .none && !FastGemm.vectorPaths.contains($0) }
        for name in unrunnable.map(\.name) + ["sse9"] {
            let r = try exec(["sample", dir, "--latents", dir + "/input.npy", "--out-npy", path("z.npy"), "--quiet"],
                             environment: ["FORGER_ISA": name])
            XCTAssertEqual(r.code, 2, name)
            XCTAssertTrue(r.err.contains("FORGER_ISA=\(name)"), r.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("z.npy")), name)
        }
    }

    func testInfoReportsMultiplyAddsOfTheFullDCGAN() throws {
        let report = Info.report(try ModelIO_loadArchitecture(Self.fixture("dcgan_full")))
        XCTAssertTrue(report.contains("104,628,224 multiply-adds per image"), report)
        XCTAssertTrue(report.contains("3,576,704"), "parameter total")
    }

    func testSampleWritesRawOutputsEqualToPyTorch() throws {
        let dir = Self.fixture("theano_mnist")
        let out = tmp.appendingPathComponent("y.npy").path
        try run(["sample", dir, "--latents", dir + "/input.npy", "--out-npy", out, "--quiet"])
        let got = try NPY.read(URL(fileURLWithPath: out))
        let want = try NPY.read(URL(fileURLWithPath: dir + "/expected.npy"))
        XCTAssertEqual(got.shape, [4, 1, 28, 28])
        XCTAssertLessThan(maxAbsDifference(got, want), 1e-4)
    }

    func testSampleGridIsDeterministicAndSized() throws {
        let a = tmp.appendingPathComponent("a.png").path, b = tmp.appendingPathComponent("b.png").path
        try run(["sample", Self.fixture("dcgan_small"), "-n", "6", "--seed", "7", "--columns", "3", "--scale", "1", "-o", a, "-q"])
        try run(["sample", Self.fixture("dcgan_small"), "-n", "6", "--seed", "7", "--columns", "3", "--scale", "1", "-o", b, "-q"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
        let image = try PNG.read(URL(fileURLWithPath: a))
        XCTAssertEqual(image.channels, 3)
        XCTAssertEqual(image.width, 3 * 64 + 4 * 2)
        // Padding 2; under each tile a label strip of text height 7 plus padding.
        XCTAssertEqual(image.height, 2 + 2 * (64 + 7 + 2 + 2))
    }

    func testSampleRefusesLatentsOfTheWrongSize() throws {
        let dir = Self.fixture("mlp")
        XCTAssertThrowsError(try run(["sample", dir, "--latents", Self.fixture("theano_mnist") + "/input.npy",
                                      "--out-npy", tmp.appendingPathComponent("y.npy").path])) { error in
            XCTAssertTrue("\(error)".contains("input.npy holds latents of size 16, but the model takes latents of size 8"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("y.npy").path))
    }

    func testSampleNeedsAnOutput() {
        XCTAssertThrowsError(try Forger.parseAsRoot(["sample", Self.fixture("mlp")])) { error in
            XCTAssertTrue(Forger.message(for: error).contains("nothing to write"))
        }
    }

    func testUnknownModelNameSaysWhereItLooked() {
        XCTAssertThrowsError(try run(["sample", "no-such-model", "-o", tmp.appendingPathComponent("x.png").path])) { error in
            XCTAssertTrue("\(error)".contains("no model named 'no-such-model'"), "\(error)")
            XCTAssertTrue("\(error)".contains("forger models"))
        }
    }

    // MARK: the built binary



    func testBinaryHelpAndExitCodes() throws {
        let help = try exec(["--help"])
        XCTAssertEqual(help.code, 0)
        XCTAssertTrue(help.out.contains("sample"))
        let info = try exec(["info", Self.fixture("dcgan_full")])
        XCTAssertEqual(info.code, 0)
        XCTAssertTrue(info.out.contains("104,628,224"))
        let bad = try exec(["sample", Self.fixture("mlp"), "--latents", "/nonexistent.npy", "--out-npy", tmp.appendingPathComponent("y.npy").path])
        XCTAssertNotEqual(bad.code, 0)
        XCTAssertTrue(bad.err.contains("/nonexistent.npy"), bad.err)
    }
}

import ModelIO
func ModelIO_loadArchitecture(_ path: String) throws -> LoadedModel {
    try ModelStore.loadArchitecture(URL(fileURLWithPath: path))
}

final class ToyCommandTests: CommandTestCase {
    /// --trace writes one row per frame (epochs 0, 10, 20) with G's sample moments, beside the GIF.
    func testToyTraceHasOneRowPerFrame() throws {
        let gif = tmp.appendingPathComponent("toy.gif"), csv = tmp.appendingPathComponent("toy.csv")
        try run(["toy", "--epochs", "20", "--frame-every", "10", "-k", "2", "--batch-size", "20", "--seed", "3",
                 "-o", gif.path, "--trace", csv.path, "--quiet"])
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") }
        XCTAssertEqual(rows.first.map { $0.map(String.init) }, ["epoch", "sample_mean", "sample_std"])
        XCTAssertEqual(rows.dropFirst().map { String($0[0]) }, ["0", "10", "20"])
        for row in rows.dropFirst() {
            let mean = try XCTUnwrap(Float(row[1])), sd = try XCTUnwrap(Float(row[2]))
            XCTAssertTrue(mean.isFinite && sd >= 0, "row \(row)")
        }
        XCTAssertEqual(try GIF.read(gif).frames.count, 3)
    }
}
