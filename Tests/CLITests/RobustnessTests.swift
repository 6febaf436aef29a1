import XCTest
import Foundation
import Imaging
import Latent
import ModelIO
import NN
import Render
import Safety
import Tensor
@testable import ForgerCLI

/// The defects of the robustness issue, one test each (numbers as in the issue): outputs and
/// recipes, absurd sizes, CLI habits, hostile recipes and models. Each failed before the fix.
final class RobustnessTests: CommandTestCase {
    let dcgan = CLITests.fixture("dcgan_small")     // colour 64x64, z 16
    let mnist = CLITests.fixture("theano_mnist")    // grey 28x28, z 16, uniform(0, 1)

    // MARK: outputs and recipes

    /// 1. out.png and out.gif keep their own recipes, and a recipe's command runs again as written.
    func testOutputsOfOneNameKeepTheirOwnRecipesAndCommandsRunAgain() throws {
        let png = path("out.png"), gif = path("out.gif")
        let sample = try exec(["sample", mnist, "-n", "4", "--seed", "3", "--scale", "1", "-o", png, "-q"])
        XCTAssertEqual(sample.code, 0, sample.err)
        let walk = try exec(["walk", mnist, "--keyframes", "seed:1,seed:2", "--frames", "3", "--scale", "1", "-o", gif, "-q"])
        XCTAssertEqual(walk.code, 0, walk.err)
        let pngRecipe = try Recipe.read(URL(fileURLWithPath: png + ".recipe.json"))
        let gifRecipe = try Recipe.read(URL(fileURLWithPath: gif + ".recipe.json"))
        XCTAssertEqual(pngRecipe.plan.format, .png)
        XCTAssertEqual(gifRecipe.plan.format, .gif)
        XCTAssertEqual(Array(pngRecipe.command.prefix(3)), ["forger", "sample", mnist], "the subcommand once")
        // The recorded command, pasted back (with --force, as its output exists), redraws the same bytes.
        let before = try bytes("out.png")
        let again = try exec(Array(pngRecipe.command.dropFirst()) + ["--force"])
        XCTAssertEqual(again.code, 0, again.err)
        XCTAssertEqual(try bytes("out.png"), before)
        try run(["render", gif + ".recipe.json", "-o", path("copy.gif"), "-q"])
        XCTAssertEqual(try bytes("copy.gif"), try bytes("out.gif"))
    }

    /// 2. Every command refuses an existing output without --force, before any work.
    func testExistingOutputsAreRefusedWithoutForce() throws {
        let png = path("s.png")
        try run(["sample", mnist, "-n", "2", "--scale", "1", "-o", png, "-q"])
        let before = try bytes("s.png")
        expectError(["sample", mnist, "-n", "3", "--scale", "1", "-o", png, "-q"], "add --force")
        XCTAssertEqual(try bytes("s.png"), before, "the refused run left the file as it was")
        try run(["sample", mnist, "-n", "3", "--scale", "1", "-o", png, "-q", "--force"])
        XCTAssertNotEqual(try bytes("s.png"), before)

        // Only the recipe in the way is refused too; so are --strip, --out-npy, render and export.
        try FileManager.default.removeItem(atPath: png)
        expectError(["sample", mnist, "-n", "3", "--scale", "1", "-o", png, "-q"], "recipe of the output already exists")
        try Data().write(to: URL(fileURLWithPath: path("strip.png")))
        expectError(["walk", mnist, "--keyframes", "seed:1,seed:2", "--frames", "2", "--strip", path("strip.png"), "-o", path("w.gif")], "--strip picture already exists")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("w.gif")))
        try Data().write(to: URL(fileURLWithPath: path("y.npy")))
        expectError(["sample", mnist, "--out-npy", path("y.npy")], "--out-npy file already exists")
        expectError(["render", png + ".recipe.json", "-o", path("strip.png"), "-q"], "add --force")
        try Data().write(to: URL(fileURLWithPath: path("m.safetensors")))
        expectError(["export", mnist, "-o", path("m.safetensors")], "add --force")
        expectError(["sample", mnist, "-o", path("no-such-folder/x.png")], "does not exist; create it first")
        // A model directory is continued with --resume or replaced with --force, never silently.
        try FileManager.default.copyItem(atPath: mnist, toPath: path("trained"))
        expectError(["train", "--preset", "post-mnist", "--data", path("none.idx"), "--steps", "1", "-o", path("trained")], "add --resume")
        try Data().write(to: URL(fileURLWithPath: path("report.json")))
        expectError(["evaluate", mnist, "--data", path("none.idx"), "--json", path("report.json")], "--json report already exists")
    }

    /// 3 and 14. Interrupted renders leave no temporary file behind.
    func testInterruptRemovesTemporaryFiles() throws {
        guard let binary = Self.binary else { throw XCTSkip("the forger binary was not found beside the test bundle") }
        let folder = tmp.appendingPathComponent("long")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for signal in [SIGINT, SIGTERM] {
            let p = Process()
            p.executableURL = binary
            p.arguments = ["walk", dcgan, "--keyframes", "seed:1..40", "--frames", "100", "--scale", "2", "-o", folder.appendingPathComponent("long.gif").path, "-q"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Wait until the GIF's temporary file exists, then interrupt.
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, p.isRunning,
                  !(try FileManager.default.contentsOfDirectory(atPath: folder.path)).contains(where: { $0.hasSuffix(".tmp") }) {
                usleep(20_000)
            }
            XCTAssertTrue(p.isRunning, "the walk ended before it could be interrupted")
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 128 + signal)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [], "nothing left, not even the output")
        }
    }

    func testTemporaryFilesAreRemovedOnRequest() throws {
        let url = tmp.appendingPathComponent("x.bin")
        let made = try Safety.AtomicFile.create(for: url)
        close(made.descriptor)
        XCTAssertTrue(TemporaryFiles.registered.contains(made.path))
        XCTAssertGreaterThanOrEqual(TemporaryFiles.removeAll(), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: made.path))
        try Safety.AtomicFile.write([1, 2, 3], to: url)
        XCTAssertFalse(TemporaryFiles.registered.contains { $0.contains("x.bin") }, "a committed file is no longer temporary")
    }

    /// 4. export writes safetensors only, under a name that says so.
    func testExportRefusesOtherFormatsNames() throws {
        for name in ["m.onnx", "m.pt"] {
            expectError(["export", mnist, "-o", path(name)], "must end in .safetensors")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path(name)))
        }
    }

    /// 5. render writes beside the recipe, wherever it is run from, and says where.
    func testRenderWritesBesideItsRecipe() throws {
        let bad = tmp.appendingPathComponent("bad")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        let made = try exec(["sample", mnist, "-n", "2", "--scale", "1", "-o", "bad/x.png"], in: tmp)
        XCTAssertEqual(made.code, 0, made.err)
        XCTAssertTrue(made.err.contains("bad/x.png.recipe.json"), made.err)
        let elsewhere = tmp.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let before = try bytes("bad/x.png")
        let redrawn = try exec(["render", "../bad/x.png.recipe.json", "--force"], in: elsewhere)
        XCTAssertEqual(redrawn.code, 0, redrawn.err)
        XCTAssertEqual(try bytes("bad/x.png"), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path), [], "nothing written where render ran")
        XCTAssertEqual(RenderRecipe.defaultOutput(recipe: "/a/b/x.png.recipe.json", recorded: "c/x.png"), "/a/b/x.png")
    }

    /// 6. --each names files after their latents.
    func testEachNamesFilesAfterTheirLatents() throws {
        try run(["sample", mnist, "--from", "seed:3,seed:12,seed:4", "--each", path("each"), "-q"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("each")).sorted(),
                       ["latents.json", "latents.npy", "seed-03.png", "seed-04.png", "seed-12.png"])
        XCTAssertEqual(EachFolder.fileNames(["alice/x.png#0", ".hidden", "bob", "bob"]), ["alice-x.png-0", "latent.hidden", "bob", "bob-2"])
        // A second run into the same folder is refused; identical latents files are not in the way.
        expectError(["sample", mnist, "--from", "seed:3", "--each", path("each"), "-q"], "add --force")
    }

    // MARK: absurd sizes

    /// 7 and 9. Sizes are bounded before anything is allocated, and large grids report progress.
    func testAbsurdSizesAreRefusedBeforeWork() throws {
        let started = Date()
        expectError(["sample", mnist, "-n", "1000000", "-o", path("big.png"), "-q"], "--each DIR")
        expectError(["sample", mnist, "-n", "1000001", "-o", path("big.png"), "-q"], "-n/--samples must be 1 to 1000000")
        expectError(["sweep", mnist, "--range=-3..3", "--steps", "100000", "-o", path("many.png")], "--steps must be 2 to 256")
        expectError(["walk", mnist, "--keyframes", "seed:1..1000", "--frames", "1000", "-o", path("w.gif")], "a GIF holds")
        expectError(["sample", mnist, "--scale", "65", "-o", path("x.png")], "--scale must be 1 to 64")
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "refused before the work")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [])
    }

    func testLargeGridsReportProgressInBatches() throws {
        final class Recorder: ProgressReporter {
            var advances = 0, notes: [String] = []
            func start(total: Int, label: String) {}
            func advance(by steps: Int) -> Bool { advances += 1; return true }
            func finish() {}
            func note(_ text: String, large: Bool) { notes.append(text) }
        }
        let model = try ModelStore.load(URL(fileURLWithPath: mnist))
        let latents = (0..<40).map { LatentSampler.sample(seed: UInt64($0), size: 16, prior: .uniform(low: 0, high: 1)) }
        let plan = RenderPlan(format: .png, latents: latents, frames: [.init(tiles: latents.indices.map { $0 })],
                              layout: .init(columns: 8, scale: 1))
        let recorder = Recorder()
        try Renderer(model: model, batchSize: 8).render(plan, to: tmp.appendingPathComponent("g.png"), progress: recorder)
        XCTAssertEqual(recorder.advances, 5, "one step a batch of 8")
        XCTAssertEqual(recorder.notes.count, 1, "the PNG write is announced")
    }

    /// 8. Integers are range-checked: no overflow past the last seed.
    func testSeedOverflowIsRefused() {
        expectError(["sample", mnist, "-n", "2", "--seed", "18446744073709551615", "-o", path("x.png")], "would pass")
        expectError(["sample", mnist, "--from", "seed:18446744073709551615", "-n", "2", "-o", path("x.png")], "leave them out")
    }

    // MARK: CLI habits

    /// 10, 11, 12. --version, unknown commands, options without effect, an empty catalogue,
    /// the installed layout, completions.
    func testCommandLineHabits() throws {
        let version = try exec(["--version"])
        XCTAssertEqual(version.code, 0)
        XCTAssertEqual(version.out.trimmingCharacters(in: .whitespacesAndNewlines), Forger.version)
        let typo = try exec(["smaple", mnist, "-o", path("x.png")])
        XCTAssertNotEqual(typo.code, 0)
        XCTAssertTrue(typo.err.contains("unknown command 'smaple'. Did you mean 'sample'?"), typo.err)
        XCTAssertNil(Forger.unknownCommandMessage(["grid", mnist]), "aliases are commands")
        expectError(["walk", mnist, "--keyframes", "seed:1,seed:2", "--plane", "seed:3,seed:4", "-o", path("w.gif")], "add --circle")
        expectError(["walk", mnist, "--keyframes", "seed:1,seed:2", "--circle-frames", "9", "-o", path("w.gif")], "add --circle")
        expectError(["walk", mnist, "--circle", "--frames", "9", "-o", path("w.gif")], "shape a keyframe walk")
        expectError(["arith", mnist, "seed:1 + seed:2", "-o", path("a.gif")], "is a PNG")
        expectError(["arith", mnist, "seed:1 + seed:2", "--fps", "10", "-o", path("a.png")], "--fps")
        expectError(["sample", mnist, "-n", "2", "--fps", "10", "-o", path("a.png")], "--fps")
        expectError(["sweep", mnist, "--fps", "10", "-o", path("a.png")], "a PNG")
        expectError(["sample", mnist, "--latents", mnist + "/input.npy", "--seed", "3", "-o", path("a.png")], "leave them out")
        expectError(["sample", mnist, "--columns", "3", "--out-npy", path("y.npy")], "give -o grid.png")

        XCTAssertThrowsError(try Models.listing(folders: [tmp.appendingPathComponent("none")])) { error in
            XCTAssertTrue("\(error)".contains("no models found; searched: \(tmp.path)/none"), "\(error)")
        }
        // An installed binary finds the models installed beside it (Tools/setup.sh --prefix).
        let models = tmp.appendingPathComponent("prefix/share/forger/models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: mnist, toPath: models.appendingPathComponent("digits").path)
        let folders = ModelCatalog.searchFolders(environment: [:], executable: tmp.appendingPathComponent("prefix/bin/forger"))
        XCTAssertTrue(folders.map(\.path).contains(models.path), "\(folders)")
        XCTAssertEqual(try Models.listing(folders: folders).filter { $0.hasPrefix("digits ") }.count, 1)

        let completion = try exec(["--generate-completion-script", "bash"])
        XCTAssertEqual(completion.code, 0)
        XCTAssertTrue(completion.out.contains("_forger"), "a bash completion function")
    }

    // MARK: hostile recipes and models

    func recipe(_ change: (inout Recipe) -> Void) throws -> String {
        try run(["sample", mnist, "-n", "2", "--scale", "1", "-o", path("r.png"), "-q"])
        var r = try Recipe.read(URL(fileURLWithPath: path("r.png.recipe.json")))
        change(&r)
        let file = path("hostile-\(UUID().uuidString.prefix(8)).recipe.json")
        try r.encoded().write(to: URL(fileURLWithPath: file))
        try FileManager.default.removeItem(atPath: path("r.png"))
        try FileManager.default.removeItem(atPath: path("r.png.recipe.json"))
        return file
    }

    /// 13 and 14. Recipes with absurd layouts or holds are refused before anything is drawn.
    func testHostileRecipesAreRefused() throws {
        expectError(["render", try recipe { $0.plan.layout.scale = 2_147_483_648 }, "-o", path("x.png")], "scale of 1 to 64")
        expectError(["render", try recipe { $0.plan.layout.scale = 64; $0.plan.latents += Array(repeating: $0.plan.latents[0], count: 2000)
                                             $0.plan.frames[0].tiles = Array(0..<2002) }, "-o", path("x.png")], "megapixels")
        expectError(["render", try recipe { $0.plan.layout.columns = 4_294_967_296 }, "-o", path("x.png")], "columns of 1 to 4096")
        expectError(["render", try recipe { $0.plan.layout.title = String(repeating: "x", count: 100_000) }, "-o", path("x.png")], "captions hold")
        expectError(["render", try recipe {
            $0.plan.format = .gif; $0.plan.gif = .init(fps: 12)
            $0.plan.frames = [.init(tiles: [0]), .init(tiles: [1], hold: 1_099_511_627_776)]
        }, "-o", path("x.gif")], "use 1 to 10000 frame periods")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: tmp.path).contains { $0.hasPrefix("x.") || $0.hasSuffix(".tmp") })
    }

    /// 7 and 16. A model whose declared or real outputs are absurdly large is refused at load.
    func testHugeModelsAreRefusedAtLoad() throws {
        let dir = tmp.appendingPathComponent("huge")
        try FileManager.default.copyItem(atPath: mnist, toPath: dir.path)
        let manifestURL = dir.appendingPathComponent("model.json")
        let original = try String(contentsOf: manifestURL, encoding: .utf8)
        let declared = original.replacingOccurrences(of: "\"height\": 28", with: "\"height\": 800012")
        XCTAssertNotEqual(declared, original, "the fixture's manifest declares its height")
        try declared.write(to: manifestURL, atomically: true, encoding: .utf8)
        expectError(["sample", dir.path, "-o", path("x.png")], "'height' must be 1 to 65535")
        // Layers that really produce 24,000 x 24,000 per image: refused with the stage and the bound.
        XCTAssertThrowsError(try Generator(latentSize: 16, layers: [.reshape([1, 4, 4]), .upsampleNearest(scale: 200),
                                                                     .upsampleNearest(scale: 30)])) { error in
            XCTAssertTrue("\(error)".contains("layer 2 (upsample)"), "\(error)")
            XCTAssertTrue("\(error)".contains("at most 134217728 values"), "\(error)")
        }
        // A manifest declaring 2^24 x 2^24 weights, with no weights file (as forger info reads it).
        let open = tmp.appendingPathComponent("open")
        try FileManager.default.createDirectory(at: open, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: CLITests.packageRoot.appendingPathComponent("Fuzz/crashes/model-json/open-placeholder-weights-2e48.json"),
                                         to: open.appendingPathComponent("model.json"))
        expectError(["info", open.path], "more than 1073741824 weights")
        let wide = try Generator(latentSize: 16, layers: [.reshape([1, 4, 4]), .upsampleNearest(scale: 256), .upsampleNearest(scale: 8)])
        XCTAssertLessThan(wide.boundedBatchSize(64), 64, "a batch of 64 such images would pass the memory budget")
        XCTAssertEqual(try ModelStore.load(URL(fileURLWithPath: mnist)).generator.boundedBatchSize(64), 64)
    }

    /// 17. NaN latents are refused before any output is written.
    func testNaNLatentsWriteNothing() throws {
        var z = try NPY.read(URL(fileURLWithPath: mnist + "/input.npy"))
        z.data[20] = .nan
        try NPY.write(z, to: tmp.appendingPathComponent("z.npy"))
        expectError(["sample", mnist, "--latents", path("z.npy"), "-o", path("s.png"), "--out-npy", path("y.npy")], "holds NaN")
        expectError(["sample", mnist, "--latents", path("z.npy"), "--out-npy", path("y.npy")], "holds NaN")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), ["z.npy"])
    }

    /// 18. Finite weights whose outputs overflow are an error, not a picture of NaN.
    func testOverflowingWeightsAreAnError() throws {
        let dir = tmp.appendingPathComponent("overflow")
        try FileManager.default.copyItem(atPath: mnist, toPath: dir.path)
        let weights = dir.appendingPathComponent("weights.safetensors")
        var tensors = try SafeTensors.read(weights)
        let first = tensors.firstIndex { $0.record.shape.count >= 2 }!
        tensors[first].record.values = tensors[first].record.values.map { _ in 3.4e38 }
        try SafeTensors.encode(tensors).write(to: weights)
        expectError(["sample", dir.path, "-n", "2", "--out-npy", path("y.npy")], "overflow float32")
        expectError(["sample", dir.path, "-n", "2", "-o", path("s.png")], "overflow float32")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: tmp.path).contains { $0 != "overflow" })
    }
}
