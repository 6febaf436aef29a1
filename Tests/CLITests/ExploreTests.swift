import XCTest
import Foundation
import Imaging
import Latent
import Render
@testable import ForgerCLI

/// The exploration commands end to end, in-process: same command, same bytes; recipes redraw
/// byte for byte; shards add up to one run; bad input is a clear error.
final class ExploreTests: CommandTestCase {
    let dcgan = CLITests.fixture("dcgan_small")     // colour 64x64, z 16
    let mnist = CLITests.fixture("theano_mnist")    // grey 28x28, z 16, uniform(0, 1)


    func testWalkIsDeterministicAndItsRecipeRedrawsTheSameBytes() throws {
        let args = ["walk", dcgan, "--keyframes", "seed:1,seed:2,seed:3", "--frames", "4", "--loop", "--scale", "1", "-q"]
        try run(args + ["-o", path("a.gif")])
        try run(args + ["-o", path("b.gif")])
        XCTAssertEqual(try bytes("a.gif"), try bytes("b.gif"))
        try run(["render", path("a.gif.recipe.json"), "-o", path("c.gif"), "-q"])
        XCTAssertEqual(try bytes("a.gif"), try bytes("c.gif"))
        let recipe = try Recipe.read(tmp.appendingPathComponent("a.gif.recipe.json"))
        XCTAssertEqual(recipe.plan.latents.count, 12, "3 keyframes x 4 frames, looped: no repeated frame at the seam")
        XCTAssertEqual(recipe.plan.latents[0], LatentSampler.sample(seed: 1, size: 16))
        XCTAssertEqual(recipe.options["frames"], "4")
        XCTAssertEqual(recipe.model.weightsHash.count, 64)
        let gif = try GIF.read(tmp.appendingPathComponent("a.gif"))
        XCTAssertEqual(gif.frames.count, 12)
        XCTAssertEqual(gif.loopCount, 0)
    }

    func testOpenWalkEndsOnTheLastKeyframeWithHolds() throws {
        try run(["walk", mnist, "--keyframes", "seed:1,seed:2", "--frames", "5", "--hold", "2", "--fps", "10", "--scale", "1",
                 "-o", path("w.gif"), "-q"])
        let plan = try Recipe.read(tmp.appendingPathComponent("w.gif.recipe.json")).plan
        XCTAssertEqual(plan.latents.count, 6)
        XCTAssertEqual(plan.frames.map(\.hold), [3, 1, 1, 1, 1, 3])
        XCTAssertEqual(plan.latents.last!, LatentSampler.sample(seed: 2, size: 16, prior: .uniform(low: 0, high: 1)))
        let gif = try GIF.read(tmp.appendingPathComponent("w.gif"))
        XCTAssertEqual(gif.delays.reduce(0, +), 100, "10 frame periods of 10 cs: holds become time, none is lost")
        XCTAssertEqual(gif.frames[0].channels, 1, "a grey model makes a grey GIF")
    }

    func testGreatCircleFramesKeepTheirNorm() throws {
        try run(["walk", dcgan, "--circle", "--circle-frames", "8", "--plane-seed", "3", "--scale", "1", "-o", path("c.gif"), "-q"])
        let plan = try Recipe.read(tmp.appendingPathComponent("c.gif.recipe.json")).plan
        let norms = plan.latents.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        XCTAssertEqual(plan.latents.count, 8)
        for n in norms { XCTAssertEqual(n, norms[0], accuracy: 1e-4) }
    }

    func testSweepGridAndItsRecipe() throws {
        try run(["sweep", mnist, "--base", "seed:5", "--dims", "2,7", "--steps", "3", "--scale", "1", "-o", path("s.png"), "-q"])
        let recipe = try Recipe.read(tmp.appendingPathComponent("s.png.recipe.json"))
        let plan = recipe.plan
        XCTAssertEqual(plan.latents.count, 6)
        XCTAssertEqual(plan.layout.rowCaptions, ["z[2]", "z[7]"])
        XCTAssertEqual(plan.layout.columnCaptions, ["0", "0.5", "1"], "the uniform(0, 1) prior's spread")
        let base = LatentSampler.sample(seed: 5, size: 16, prior: .uniform(low: 0, high: 1))
        var expected = base; expected[7] = 0.5
        XCTAssertEqual(plan.latents[4], expected)
        try run(["render", path("s.png.recipe.json"), "-o", path("s2.png"), "-q"])
        XCTAssertEqual(try bytes("s.png"), try bytes("s2.png"))
    }

    func testSweepRankKeepsTheMostChangingDimensions() throws {
        try run(["sweep", mnist, "--dims", "0..15", "--rank", "--top", "3", "--steps", "3", "--scale", "1", "-o", path("r.png"), "-q"])
        let captions = try Recipe.read(tmp.appendingPathComponent("r.png.recipe.json")).plan.layout.rowCaptions!
        XCTAssertEqual(captions.count, 3)
        let scores = captions.map { Double($0.split(separator: " ").last!)! }
        XCTAssertEqual(scores, scores.sorted(by: >), "ranked by score, highest first")
    }

    func testShardsAddUpToOneRun() throws {
        try run(["sample", mnist, "-n", "7", "--seed", "40", "--each", path("all"), "-q"])
        try run(["sample", mnist, "-n", "7", "--seed", "40", "--each", path("parts"), "--shard", "1/2", "-q"])
        try run(["sample", mnist, "-n", "7", "--seed", "40", "--each", path("parts"), "--shard", "2/2", "-q"])
        // Files are named after their latents (seed 40 is seed-40.png), and the shards of one
        // run leave exactly the files of a single run: images and one latents.json/.npy.
        let names = (40..<47).map { "seed-\($0).png" } + ["latents.json", "latents.npy"]
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("all")).sorted(), names.sorted())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("parts")).sorted(), names.sorted())
        for name in names {
            XCTAssertEqual(try bytes("all/\(name)"), try bytes("parts/\(name)"), name)
        }
        let whole = try LatentFile.read(tmp.appendingPathComponent("all/latents.json"))
        XCTAssertEqual(whole.latents.map(\.name).first, "seed:40")
        let npy = try LatentIO.readNPY(tmp.appendingPathComponent("all/latents.npy"))
        XCTAssertEqual(npy, whole.latents.map(\.vector), "the .npy holds the same latents, (N, size) float32")
    }

    func testVectorMakeApplyAndModelCheck() throws {
        let lib = path("vectors.json")
        try run(["vector", "make", dcgan, "up", "--with", "seed:1,seed:2", "--without", "seed:3,seed:4", "--library", lib])
        let entry = try VectorLibrary.read(URL(fileURLWithPath: lib)).lookup("up")
        let s = { (seed: UInt64) in LatentSampler.sample(seed: seed, size: 16) }
        for i in 0..<16 {
            XCTAssertEqual(entry.vector[i], (s(1)[i] + s(2)[i]) / 2 - (s(3)[i] + s(4)[i]) / 2, accuracy: 1e-5)
        }
        try run(["vector", "apply", dcgan, "up", "--to", "seed:7", "--strengths", "-2..2", "--steps", "5", "--library", lib,
                 "--scale", "1", "-o", path("v.png"), "-q"])
        let plan = try Recipe.read(tmp.appendingPathComponent("v.png.recipe.json")).plan
        XCTAssertEqual(plan.latents[2], s(7))
        XCTAssertEqual(plan.latents[4][0], s(7)[0] + 2 * entry.vector[0], accuracy: 1e-5)
        // The vector was made for dcgan_small: another model is refused.
        expectError(["vector", "apply", CLITests.fixture("theano_mnist"), "up", "--library", lib, "-o", path("x.png")], "vector 'up' was made for model 'dcgan-small'")
        expectError(["vector", "make", dcgan, "up", "--with", "seed:1", "--without", "seed:2", "--library", lib], "already has a vector named 'up'")
    }

    func testArithmeticFigureHasARowPerOperandAndTheResult() throws {
        try run(["arith", dcgan, "mean(seed:1,seed:2,seed:3) - mean(seed:4,seed:5,seed:6) + seed:7", "--neighbours", "2",
                 "--scale", "1", "-o", path("a.png"), "-q"])
        let plan = try Recipe.read(tmp.appendingPathComponent("a.png.recipe.json")).plan
        XCTAssertEqual(plan.layout.rowCaptions?.count, 4)
        XCTAssertEqual(plan.layout.columns, 4, "three exemplars and their mean")
        let s = { (seed: UInt64) in LatentSampler.sample(seed: seed, size: 16) }
        let result = plan.latents[plan.frames[0].tiles[12]!]
        for i in 0..<16 {
            let want = (s(1)[i] + s(2)[i] + s(3)[i]) / 3 - (s(4)[i] + s(5)[i] + s(6)[i]) / 3 + s(7)[i]
            XCTAssertEqual(result[i], want, accuracy: 1e-5)
        }
        expectError(["arith", dcgan, "mean(seed:1, seed:2", "-o", path("b.png")], "column 20")
    }

    func testAnalogyCorners() throws {
        try run(["analogy", mnist, "seed:1", "seed:2", "seed:3", "--steps", "3", "--scale", "1", "-o", path("g.png"), "-q"])
        let plan = try Recipe.read(tmp.appendingPathComponent("g.png.recipe.json")).plan
        let s = { (seed: UInt64) in LatentSampler.sample(seed: seed, size: 16, prior: .uniform(low: 0, high: 1)) }
        XCTAssertEqual(plan.latents[0], s(1))
        for i in 0..<16 { XCTAssertEqual(plan.latents[2][i], s(2)[i], accuracy: 1e-6) }
        for i in 0..<16 { XCTAssertEqual(plan.latents[6][i], s(3)[i], accuracy: 1e-6) }
    }

    func testClearErrors() {
        expectError(["sweep", mnist, "--dims", "3,16", "-o", path("x.png")], "dimension 16 is out of range")
        expectError(["walk", mnist, "--keyframes", "seed:1", "-o", path("x.gif")], "at least two keyframes")
        expectError(["walk", mnist, "--keyframes", "sead:1,seed:2", "-o", path("x.gif")], "sead:1")
        expectError(["walk", mnist, "--keyframes", ",", "-o", path("x.gif")], "no latents given")
        expectError(["vector", "apply", mnist, "up", "--strengths", "3..-3", "--library", path("none.json"), "-o", path("x.png")], "none.json")
        expectError(["sweep", mnist, "--range", "2..1", "-o", path("x.png")], "LOW..HIGH")
        expectError(["walk", mnist, "--keyframes", "seed:1,seed:2", "-o", path("x.jpg")], "must end in .png or .gif")
        expectError(["sample", mnist, "--truncation", "psi:7", "-o", path("x.png")], "psi")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "nothing written on errors")
    }
}

final class ConditionalCommandTests: CommandTestCase {
    func testClassWalkMixesEmbeddingsAndClassIsChecked() throws {
        let model = CLITests.fixture("cond_concat")
        try run(["walk", model, "--keyframes", "seed:1,seed:2", "--classes", "0,2", "--frames", "4",
                 "--scale", "1", "-o", tmp.appendingPathComponent("w.gif").path, "-q"])
        let plan = try Recipe.read(tmp.appendingPathComponent("w.gif.recipe.json")).plan
        XCTAssertEqual(plan.classWeights?.count, 5)
        XCTAssertEqual(plan.classWeights?[0], [1, 0, 0])
        XCTAssertEqual(plan.classWeights?[2], [0.5, 0, 0.5])
        XCTAssertEqual(plan.classWeights?[4], [0, 0, 1])
        XCTAssertThrowsError(try run(["sample", model, "--class", "3", "-o", tmp.appendingPathComponent("x.png").path])) {
            XCTAssertTrue("\($0)".contains("--class 3: model 'cond_concat' has classes 0 to 2"), "\($0)")
        }
        XCTAssertThrowsError(try run(["sample", CLITests.fixture("mlp"), "--class", "1", "-o", tmp.appendingPathComponent("x.png").path])) {
            XCTAssertTrue("\($0)".contains("not conditional"), "\($0)")
        }
    }
}
