import XCTest
import Foundation
import Latent
import Render
import Tensor
@testable import ForgerCLI

/// `forger directions` in-process: the library, .npy and grid it writes, their use by vector
/// apply, sweep and arith, and bad input refused with nothing written.
final class DirectionsCommandTests: CommandTestCase {
    let dcgan = CLITests.fixture("dcgan_small")     // convT first layer, z 16
    let convt = CLITests.packageRoot.appendingPathComponent("Tests/LatentTests/Fixtures/directions/convt").path   // z 8

    func library(_ name: String = "dirs.json") throws -> VectorLibrary { try VectorLibrary.read(tmp.appendingPathComponent(name)) }

    func testSeFaWritesLibraryNpyAndGridThatOtherCommandsUse() throws {
        try run(["directions", dcgan, "--method", "sefa", "-o", path("dirs.json"), "--npy", path("dirs.npy"),
                 "--grid", path("g.png"), "--top", "3", "--base", "seed:7", "--scale", "1", "-q"])
        let lib = try library()
        XCTAssertEqual(Set(lib.vectors.keys), Set((0..<16).map { "sefa-\($0)" }))
        let first = try lib.lookup("sefa-0")
        XCTAssertEqual(first.method, .sefa)
        XCTAssertEqual(first.direction?.rank, 0)
        XCTAssertEqual(first.direction?.sigma, 1)
        XCTAssertGreaterThan(first.direction!.eigenvalue!, try lib.lookup("sefa-1").direction!.eigenvalue!)
        XCTAssertEqual(first.vector.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
        let npy = try NPY.read(tmp.appendingPathComponent("dirs.npy"))
        XCTAssertEqual(npy.shape, [16, 16])
        XCTAssertEqual(Array(npy.data[0..<16]), first.vector)
        // The grid: 3 rows of 7 strengths, -3..3 sigma from seed 7.
        let plan = try Recipe.read(tmp.appendingPathComponent("g.png.recipe.json")).plan
        XCTAssertEqual(plan.latents.count, 21)
        XCTAssertEqual(plan.layout.rowCaptions?.first?.hasPrefix("sefa-0 "), true)
        let base = LatentSampler.sample(seed: 7, size: 16)
        let direction2 = try lib.lookup("sefa-2").vector
        for i in 0..<16 { XCTAssertEqual(plan.latents[2 * 7 + 6][i], base[i] + 3 * direction2[i], accuracy: 1e-5) }
        // Other commands take the directions by name.
        try run(["vector", "apply", dcgan, "sefa-3", "--library", path("dirs.json"), "--to", "seed:7", "--scale", "1", "-o", path("a.png"), "-q"])
        try run(["sweep", dcgan, "--base", "seed:7", "--directions", path("dirs.json"), "--names", "sefa-1,sefa-0", "--steps", "3",
                 "--scale", "1", "-o", path("s.png"), "-q"])
        let sweep = try Recipe.read(tmp.appendingPathComponent("s.png.recipe.json")).plan
        XCTAssertEqual(sweep.layout.rowCaptions, ["sefa-1", "sefa-0"])
        for i in 0..<16 { XCTAssertEqual(sweep.latents[3 + 2][i], base[i] + 3 * first.vector[i], accuracy: 1e-5) }
        try run(["arith", dcgan, "seed:7 + 2*{sefa-0}", "--library", path("dirs.json"), "--neighbours", "0", "--scale", "1",
                 "-o", path("r.png"), "-q"])
        // Names are taken: a second run needs --replace.
        expectError(["directions", dcgan, "--method", "sefa", "-o", path("dirs.json")], "already has a vector named 'sefa-0'")
        try run(["directions", dcgan, "--method", "sefa", "-o", path("dirs.json"), "--replace", "-q"])
    }

    func testGANSpaceRecordsLayerVarianceAndSigma() throws {
        try run(["directions", convt, "--method", "ganspace", "--samples", "300", "--batch-size", "64", "-o", path("dirs.json"), "-q"])
        let lib = try library()
        XCTAssertEqual(lib.vectors.count, 8)
        let info = try lib.lookup("ganspace-0").direction!
        XCTAssertEqual(info.layer, 2)
        XCTAssertGreaterThan(info.varianceRatio!, try lib.lookup("ganspace-1").direction!.varianceRatio!)
        XCTAssertEqual(info.sigma, 1, accuracy: 0.15)
        XCTAssertEqual(try lib.lookup("ganspace-0").sources.last, "ganspace: layer 2, 300 samples from seed 0")
    }

    func testBoundaryAndConditionalBoundary() throws {
        try run(["directions", dcgan, "--method", "boundary", "--name", "left", "--with", "seed:1..12", "--without", "seed:13..24",
                 "-o", path("dirs.json"), "-q"])
        try run(["directions", dcgan, "--method", "boundary", "--name", "right", "--with", "seed:30..40,seed:1..3",
                 "--without", "seed:50..60", "--condition", "left", "-o", path("dirs.json"), "-q"])
        let lib = try library()
        let l = try lib.lookup("left").vector, r = try lib.lookup("right").vector
        XCTAssertEqual(zip(l, r).reduce(0) { $0 + $1.0 * $1.1 }, 0, accuracy: 1e-5)
        XCTAssertEqual(try lib.lookup("left").direction?.accuracy, 1, "24 latents in 16 dimensions are separable")
    }

    func testBadInputIsRefusedAndNothingIsWritten() throws {
        let out = path("dirs.json")
        expectError(["directions", CLITests.fixture("options"), "--method", "sefa", "-o", out], "layer 0")
        expectError(["directions", dcgan, "--method", "sefa", "--top", "17", "-o", out, "--grid", path("g.png")], "at most 16 directions")
        expectError(["directions", dcgan, "--method", "ganspace", "--samples", "1", "-o", out], "--samples must be 2")
        expectError(["directions", dcgan, "--method", "ganspace", "--samples", "10", "--layer", "99", "-o", out], "has layers 0 to")
        expectError(["directions", dcgan, "--method", "sefa", "--samples", "10", "-o", out], "belong to --method ganspace")
        expectError(["directions", dcgan, "--method", "sefa", "-o", path("dirs.txt")], "must end in .json")
        expectError(["directions", dcgan, "--method", "boundary", "--with", "seed:1", "-o", out], "both --with and --without")
        let labelled = tmp.appendingPathComponent("labelled.json")
        try LatentFile(size: 16, latents: [.init(name: "a", vector: LatentSampler.sample(seed: 1, size: 16), labels: ["smile": true]),
                                           .init(name: "b", vector: LatentSampler.sample(seed: 2, size: 16), labels: ["smile": true])])
            .write(to: labelled)
        expectError(["directions", dcgan, "--method", "boundary", "--labelled", labelled.path, "--attribute", "smile", "-o", out],
                    "needs latents with and without")
        // A library made for another model.
        let other = path("other.json")
        try run(["directions", convt, "--method", "sefa", "-o", other, "-q"])
        try run(["directions", convt, "--method", "boundary", "--name", "b", "--with", "seed:1", "--without", "seed:2", "-o", other, "-q"])
        let before = try Data(contentsOf: URL(fileURLWithPath: other))
        expectError(["directions", dcgan, "--method", "boundary", "--with", "seed:1", "--without", "seed:2", "--condition", "b", "-o", other],
                    "was made for model 'directions-convt'")
        expectError(["sweep", dcgan, "--directions", other, "-o", path("s.png")], "holds no directions for model 'dcgan-small'")
        expectError(["vector", "apply", dcgan, "sefa-0", "--library", other, "-o", path("a.png")], "was made for model 'directions-convt'")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: other)), before)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path)), ["labelled.json", "other.json"], "nothing written on errors")
    }
}
