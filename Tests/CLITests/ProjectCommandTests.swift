import XCTest
import Foundation
import Imaging
import Latent
import ModelIO
import Tensor
@testable import ForgerCLI

/// `forger project` in-process on the projection fixture (Tests/TrainingTests/Fixtures/projection,
/// z 8 -> 3x16x16): images the model drew are found again, the outputs are used by other
/// commands, and bad input is refused with nothing written.
final class ProjectCommandTests: CommandTestCase {
    let model = CLITests.packageRoot.appendingPathComponent("Tests/TrainingTests/Fixtures/projection").path

    /// The fixture's image of seed `seed`, enlarged `scale` times, as a PNG.
    func drawn(_ seed: UInt64, scale: Int = 1, grey: Bool = false, name: String) throws -> String {
        let loaded = try ModelStore.load(URL(fileURLWithPath: model))
        var rng = SplitMix64(seed: seed)
        let z = Tensor(shape: [1, 8], data: (0..<8).map { _ in Float(rng.nextNormal()) })
        var image = try PixelImage.fromFloats(loaded.generator.forward(z).data, channels: 3, height: 16, width: 16).upscaled(by: scale)
        if grey { image = image.converted(toChannels: 1) }
        try PNG.write(image, to: tmp.appendingPathComponent(name))
        return path(name)
    }

    func testProjectsDrawnImagesAndOtherCommandsUseTheLatents() throws {
        // alice at 4x (area-average shrink back to 16x16 is exact), bob at 1x.
        let alice = try drawn(101, scale: 4, name: "alice.png"), bob = try drawn(202, name: "bob.png")
        try run(["project", model, alice, bob, "-o", path("p.json"), "--npy", path("z.npy"), "--grid", path("cmp.png"),
                 "--progress", path("prog.gif"), "--steps", "200", "--restarts", "3", "-q"])
        let file = try LatentFile.read(tmp.appendingPathComponent("p.json"))
        XCTAssertEqual(file.latents.map(\.name), ["alice", "bob"])
        XCTAssertEqual(file.model, "projection-fixture")
        let recipe = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: tmp.appendingPathComponent("p.json.recipe.json")))
        guard case .object(let r) = recipe, case .object(let options)? = r["options"], case .string(let psnr)? = options["psnr"] else {
            return XCTFail("recipe lacks options.psnr")
        }
        for value in psnr.split(separator: ",") { XCTAssertGreaterThan(Double(value) ?? 0, 30, "PSNR of a drawn image (8-bit targets, prior term on: about 35 dB)") }
        let targets = try NPY.read(tmp.appendingPathComponent("p.targets.npy"))
        XCTAssertEqual(targets.shape, [2, 3, 16, 16])
        XCTAssertEqual(try NPY.read(tmp.appendingPathComponent("z.npy")).shape, [2, 8])
        let grid = try PNG.read(tmp.appendingPathComponent("cmp.png"))
        XCTAssertGreaterThan(grid.width, 3 * 64)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("p.json.recipe.json")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("prog.gif")))
        // The latents walk, and the recipe draws the reconstructions.
        try run(["walk", model, "--keyframes", "\(path("p.json"))#alice,\(path("p.json"))#bob", "--frames", "4", "-o", path("w.gif"), "-q"])
        try run(["render", path("p.json.recipe.json"), "-o", path("r.png"), "-q"])
        try run(["render", path("p.json.recipe.json"), "-o", path("r2.png"), "-q"])
        XCTAssertEqual(try Data(contentsOf: tmp.appendingPathComponent("r.png")), try Data(contentsOf: tmp.appendingPathComponent("r2.png")))
        // Outputs are not overwritten without --force.
        expectError(["project", model, alice, "-o", path("p.json"), "--steps", "2", "-q"], "give --force")
        try run(["project", model, alice, "-o", path("p.json"), "--steps", "2", "--force", "-q"])
        XCTAssertEqual(try LatentFile.read(tmp.appendingPathComponent("p.json")).latents.map(\.name), ["alice"])
        // The feature loss on the fixture's saved discriminator.
        try run(["project", model, bob, "-o", path("feat.json"), "--steps", "100", "--feature-weight", "0.5", "-q"])
        XCTAssertEqual(try LatentFile.read(tmp.appendingPathComponent("feat.json")).latents.map(\.name), ["bob"])
    }

    func testFolderAndGreyImageForAColourModel() throws {
        let folder = tmp.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        _ = try drawn(7, grey: true, name: "in/grey.png")
        _ = try drawn(8, scale: 3, name: "in/wide.png")
        try run(["project", model, folder.path, "-o", path("f.json"), "--steps", "20", "-q"])
        XCTAssertEqual(try LatentFile.read(tmp.appendingPathComponent("f.json")).latents.map(\.name), ["grey", "wide"])
        let targets = try NPY.read(tmp.appendingPathComponent("f.targets.npy"))
        // The grey image became three equal planes.
        XCTAssertEqual(Array(targets.data[0..<256]), Array(targets.data[256..<512]))
    }

    func testCtrlCStopsAndWritesTheBestSoFar() throws {
        guard let binary = Self.binary else { throw XCTSkip("the forger binary was not found beside the test bundle") }
        let image = try drawn(5, name: "five.png")
        let p = Process()
        p.executableURL = binary
        p.arguments = ["project", model, image, "-o", path("c.json"), "--steps", "100000", "-q"]
        try p.run()
        Thread.sleep(forTimeInterval: 1.5)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try LatentFile.read(tmp.appendingPathComponent("c.json")).latents.map(\.name), ["five"])
        let recipe = try String(contentsOf: tmp.appendingPathComponent("c.json.recipe.json"), encoding: .utf8)
        XCTAssertTrue(recipe.contains("\"interrupted\" : \"true\""), recipe)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary files left")
    }

    func testBadInputIsRefusedAndNothingIsWritten() throws {
        let good = try drawn(1, name: "good.png")
        try Data("not a picture".utf8).write(to: tmp.appendingPathComponent("notes.png"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count / 2).write(to: tmp.appendingPathComponent("cut.png"))
        // A header that claims 60000 x 60000 pixels: refused before anything is decoded.
        var huge = [UInt8](bytes.prefix(33))
        huge.replaceSubrange(16..<24, with: [0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60])
        try Data(huge).write(to: tmp.appendingPathComponent("huge.png"))
        try FileManager.default.createDirectory(at: tmp.appendingPathComponent("empty"), withIntermediateDirectories: false)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path))
        let out = path("o.json")
        expectError(["project", model, path("notes.png"), "-o", out], "no PNG signature")
        expectError(["project", model, path("cut.png"), "-o", out], "is not a readable PNG")
        expectError(["project", model, path("huge.png"), "-o", out], "60000x60000")
        expectError(["project", model, path("empty"), "-o", out], "holds no .png files")
        expectError(["project", model, path("missing.png"), "-o", out], "no such file")
        expectError(["project", model, good, good, "-o", out], "would both be named 'good'")
        expectError(["project", model, good, "-o", path("o.txt")], "must end in .json")
        expectError(["project", model, good, "-o", out, "--grid", path("g.gif")], "must end in .png")
        expectError(["project", model, good, "-o", path("nowhere/o.json")], "does not exist")
        expectError(["project", model, good, "-o", out, "--steps", "0"], "--steps 0")
        expectError(["project", model, good, "-o", out, "--restarts", "1000"], "--restarts 1000")
        expectError(["project", model, good, "-o", out, "--npy", path("o.targets.npy")], "written twice")
        expectError(["project", CLITests.fixture("cond_concat"), good, "-o", out], "class-conditional")
        expectError(["project", CLITests.fixture("dcgan_small"), good, "-o", out, "--feature-weight", "1"], "has no discriminator")
        expectError(["project", model, good, "-o", out, "--feature-weight", "1", "--feature-layer", "9"], "there is no layer 9")
        expectError(["project", model, good, "-o", out, "--feature-layer", "2"], "needs --feature-weight")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path)), before, "nothing written on errors")
    }
}
