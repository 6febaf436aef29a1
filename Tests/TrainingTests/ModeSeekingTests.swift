import XCTest
import Tensor
@testable import Training

/// The mode-seeking term (its values against autograd are in PyTorchParityTests): what it
/// pairs, that it changes training, and that runs with and without it do not share checkpoints.
final class ModeSeekingTests: XCTestCase {
    func testPairsGetTheClassOfTheirFirstRow() {
        XCTAssertEqual(ModeSeeking.pair([3, 1, 4, 1, 5, 9]), [3, 1, 4, 3, 1, 4])
        XCTAssertEqual(ModeSeeking.pair([2, 7, 1, 8, 2]), [2, 7, 2, 7, 2], "an odd batch's last row keeps its own class")
        XCTAssertNil(ModeSeeking.pair(nil))
    }

    func testIdenticalPairsCostMoreThanDistinctOnes() {
        let latents = Tensor(shape: [4, 2], data: [0, 1, 2, 3, 1, 0, 3, 2])
        let same = Tensor(shape: [4, 3], data: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        let apart = Tensor(shape: [4, 3], data: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9, 0.8, 0.7, 0.0, 0.1, 0.2])
        let ms = ModeSeeking(weight: 1)
        XCTAssertEqual(ms.term(images: same, latents: latents).loss, 1e5, accuracy: 1, "weight / epsilon when each pair is one image")
        // mean |image difference| = 3 / 6, mean |latent difference| = 4 / 4: loss 1 / (0.5 + 1e-5).
        XCTAssertEqual(ms.term(images: apart, latents: latents).loss, 1 / 0.50001, accuracy: 1e-4)
        let grad = ms.term(images: apart, latents: latents).grad
        XCTAssertEqual(grad.data[0], -grad.data[6], "the two rows of a pair get opposite gradients")
        // Row 0's 0.1 lies below its partner's 0.9: raising it shrinks the distance and raises
        // the loss, so descent moves it away.
        XCTAssertGreaterThan(grad.data[0], 0)
    }

    func testTheTermChangesTrainingAndKeepsResumeExact() throws {
        func data() -> ShuffledImages { ShuffledImages(tinyData(), seed: 7, flips: true) }
        var config = tinyConfig()
        let plain = try GANTrainer(config: config, data: data())
        config.modeSeeking = ModeSeeking(weight: 1)
        let seeking = try GANTrainer(config: config, data: data())
        for _ in 0..<3 { plain.trainStep(); seeking.trainStep() }
        let a = plain.generatorParameters.flatMap { $0.parameter.value.data }
        let b = seeking.generatorParameters.flatMap { $0.parameter.value.data }
        XCTAssertNotEqual(a, b, "the term reaches G's weights")
        XCTAssertFalse(tinyConfig().fingerprint.contains("ms("), "runs without the term keep their fingerprint")
        for _ in 0..<3 { seeking.trainStep() }

        let dir = try temporaryDirectory("mode-seeking")
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = dir.appendingPathComponent("checkpoint.safetensors")
        try TrainingRun(totalSteps: 3, checkpoint: checkpoint).run(try GANTrainer(config: config, data: data()), reporter: SilentReporter())
        try assertResumesExactly(try GANTrainer(config: config, data: data()), from: checkpoint, as: seeking, "with mode seeking")
        XCTAssertThrowsError(try GANTrainer(config: tinyConfig(), data: data()).loadCheckpoint(from: checkpoint)) {
            XCTAssertTrue("\($0)".contains("other training settings"), "\($0)")
        }
    }
}
