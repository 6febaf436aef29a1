import XCTest
import Foundation
import Imaging
import ModelIO
import Tensor
@testable import ForgerCLI

/// `forger train --conditional` end to end on tiny data: the model it writes is conditional for
/// sample --class and walk --classes, a resume continues it, and unusable inputs are refused.
final class TrainCommandTests: CommandTestCase {
    /// An 8x8 G and D small enough to train in a blink.
    func architecture() throws -> String {
        let path = tmp.appendingPathComponent("tiny.json").path
        try Data("""
        {"latent_size": 4,
         "generator": [{"type": "linear", "out": 32}, {"type": "batchnorm"}, {"type": "relu"},
                       {"type": "reshape", "shape": [2, 4, 4]}, {"type": "upsample", "scale": 2},
                       {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}, {"type": "tanh"}],
         "discriminator": [{"type": "conv2d", "out": 4, "kernel": 4, "stride": 2, "padding": 1}, {"type": "leakyrelu", "slope": 0.2},
                           {"type": "flatten"}, {"type": "linear", "out": 1}]}
        """.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A folder of grey 8x8 PNGs, in subfolders named after their classes when `classes` is given.
    func imageFolder(_ name: String = "images", classes: [String]?) throws -> String {
        let root = tmp.appendingPathComponent(name)
        for (c, name) in (classes ?? [""]).enumerated() {
            let dir = name.isEmpty ? root : root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for i in 0..<4 {
                try PNG.write(PixelImage(width: 8, height: 8, channels: 1, fill: UInt8(40 + 80 * c + i)),
                              to: dir.appendingPathComponent("\(i).png"))
            }
        }
        return root.path
    }

    func testConditionalTrainingFromClassFoldersSamplesWalksAndResumes() throws {
        let arch = try architecture(), data = try imageFolder(classes: ["circle", "square", "star"])
        let out = tmp.appendingPathComponent("model").path
        let common = ["train", "--architecture", arch, "--data", data, "--conditional", "--batch-size", "4",
                      "--sample-every", "2", "-o", out, "-q"]
        try run(common + ["--steps", "3"])
        let first = try ModelStore.load(URL(fileURLWithPath: out))
        let spec = try XCTUnwrap(first.manifest.conditioning, "model.json has no conditioning")
        XCTAssertEqual(spec.classes, 3)
        XCTAssertEqual(spec.labels, ["circle", "square", "star"])
        XCTAssertEqual(spec.join, .concatLatentFirst)
        XCTAssertEqual(first.manifest.training?["conditional"], .string("3 classes, G: concat-latent-first embedding 3, D: 3 label channels"))

        // Same latents, classes 0 and 2: different images.
        let a = tmp.appendingPathComponent("a.npy"), b = tmp.appendingPathComponent("b.npy")
        try run(["sample", out, "-n", "3", "--seed", "1", "--class", "0", "--out-npy", a.path, "-q"])
        try run(["sample", out, "-n", "3", "--seed", "1", "--class", "2", "--out-npy", b.path, "-q"])
        XCTAssertGreaterThan(maxAbsDifference(try NPY.read(a), try NPY.read(b)), 1e-3)
        try run(["walk", out, "--keyframes", "seed:1,seed:2", "--classes", "0,2", "--frames", "3",
                 "--scale", "1", "-o", tmp.appendingPathComponent("w.gif").path, "-q"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("w.gif").path))

        // The progress grid puts one class per column: 64 samples in 9 columns of 16-px tiles (2x, padding 2).
        XCTAssertEqual(try PNG.read(URL(fileURLWithPath: out + "/samples.png")).width, 9 * 16 + 10 * 2)

        try run(common + ["--steps", "5", "--resume"])
        XCTAssertEqual(try ModelStore.load(URL(fileURLWithPath: out)).manifest.training?["steps"], .number(5))
        XCTAssertThrowsError(try run(["train", "--architecture", arch, "--data", data, "--batch-size", "4",
                                      "-o", out, "-q", "--steps", "6", "--resume"])) {
            XCTAssertTrue("\($0)".contains("other training settings"), "\($0)")
        }
    }

    func testConditionalTrainingFromNpyAndIdxLabels() throws {
        let images = tmp.appendingPathComponent("x.npy"), labels = tmp.appendingPathComponent("y.idx")
        try NPY.write(Tensor(shape: [6, 8, 8], data: (0..<384).map { Float($0 % 7) / 7 }), to: images)
        func idx(_ values: [UInt8]) -> Data { Data([0, 0, 8, 1, 0, 0, 0, UInt8(values.count)] + values) }
        try idx([0, 1, 2, 3, 0, 1]).write(to: labels)
        let out = tmp.appendingPathComponent("m").path
        try run(["train", "--architecture", try architecture(), "--data", images.path, "--labels", labels.path, "--conditional",
                 "--class-join", "multiply", "--batch-size", "3", "--steps", "2", "--sample-every", "0", "-o", out, "-q"])
        let model = try ModelStore.load(URL(fileURLWithPath: out))
        XCTAssertEqual(model.manifest.conditioning?.classes, 4)
        XCTAssertEqual(model.manifest.conditioning?.join, .multiply)
        XCTAssertNil(model.manifest.conditioning?.labels)

        try idx([0, 1, 2, 3, 0]).write(to: labels)
        XCTAssertThrowsError(try run(["train", "--architecture", try architecture(), "--data", images.path, "--labels", labels.path,
                                      "--conditional", "--steps", "1", "-o", out, "-q", "--force"])) {
            XCTAssertTrue("\($0)".contains("5 labels for 6 images"), "\($0)")
        }
    }

    func testConditionalTrainingRefusesWhatItCannotUse() throws {
        let arch = try architecture(), flat = try imageFolder(classes: nil)
        let out = tmp.appendingPathComponent("m").path
        XCTAssertThrowsError(try run(["train", "--architecture", arch, "--data", flat, "--conditional", "--steps", "1", "-o", out, "-q"])) {
            XCTAssertTrue("\($0)".contains("--conditional needs labelled data"), "\($0)")
        }
        XCTAssertThrowsError(try run(["train", "--architecture", arch, "--data", flat, "--labels", flat + "/0.png",
                                      "--steps", "1", "-o", out, "-q"])) {
            XCTAssertTrue("\($0)".contains("a folder's classes are its first-level subfolder names"), "\($0)")
        }
        XCTAssertThrowsError(try run(["train", "--architecture", arch, "--data", flat, "--class-join", "multiply",
                                      "--steps", "1", "-o", out])) {
            XCTAssertTrue("\(Forger.message(for: $0))".contains("add --conditional"), "\($0)")
        }
        let one = try imageFolder("one-class", classes: ["only"])
        XCTAssertThrowsError(try run(["train", "--architecture", arch, "--data", one, "--conditional", "--steps", "1", "-o", out, "-q"])) {
            XCTAssertTrue("\($0)".contains("needs at least 2"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/model.json"))
    }

    /// Ctrl-C during training checkpoints, exports the model and exits 0; --resume continues.
    func testCtrlCCheckpointsAndExports() throws {
        guard let binary = Self.binary else { throw XCTSkip("the forger binary was not found beside the test bundle") }
        let out = tmp.appendingPathComponent("stopped")
        let p = Process()
        p.executableURL = binary
        p.arguments = ["train", "--architecture", try architecture(), "--data", try imageFolder(classes: nil),
                       "--steps", "100000000", "--batch-size", "2", "--sample-every", "0", "--checkpoint-every", "0",
                       "-o", out.path, "-q"]
        try p.run()
        Thread.sleep(forTimeInterval: 2)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "Ctrl-C stops training cleanly")
        for file in ["checkpoint.safetensors", "model.json", "weights.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file) written on Ctrl-C")
        }
        let model = try ModelStore.load(out)
        guard case .object(let training)? = model.manifest.training, case .number(let steps)? = training["steps"],
              case .bool(let finished)? = training["finished"] else { return XCTFail("no training record") }
        XCTAssertGreaterThan(steps, 0)
        XCTAssertFalse(finished)
    }
}

