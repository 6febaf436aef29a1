import XCTest
import Tensor
import ModelIO
@testable import Training

/// The GAN loop on a tiny model: resume equals uninterrupted training bit for bit, and the
/// exported model loads through ModelStore and computes what the trainer's generator does.
final class TrainerTests: XCTestCase {
    func testResumeIsBitExact() throws {
        for optimizer in [OptimizerChoice.adam(learningRate: 2e-3, beta1: 0.5, beta2: 0.999),
                          .sgd(learningRate: 0.01, momentum: 0.6, nesterov: true)] {
            var config = tinyConfig()
            config.generatorOptimizer = optimizer; config.discriminatorOptimizer = optimizer
            config.schedule = LearningRateSchedule(factor: 0.5, every: 1)
            let straight = try GANTrainer(config: config, data: ShuffledImages(tinyData(), seed: 7, flips: true))
            for _ in 0..<6 { straight.trainStep() }

            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forger-resume-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let ckpt = dir.appendingPathComponent("checkpoint.safetensors")
            let first = try GANTrainer(config: config, data: ShuffledImages(tinyData(), seed: 7, flips: true))
            try TrainingRun(totalSteps: 3, checkpoint: ckpt).run(first, reporter: SilentReporter())
            let second = try GANTrainer(config: config, data: ShuffledImages(tinyData(), seed: 7, flips: true))
            try assertResumesExactly(second, from: ckpt, as: straight, "\(optimizer)")
            XCTAssertFalse(allValues(straight).elementsEqual(allValues(try GANTrainer(config: config, data: ShuffledImages(tinyData(), seed: 7, flips: true)))),
                           "training changed nothing")
        }
    }

    func testResumeWithOtherSettingsIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forger-refuse-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("c.safetensors")
        let t = try GANTrainer(config: tinyConfig(), data: ShuffledImages(tinyData(), seed: 7, flips: false))
        try t.saveCheckpoint(to: ckpt)
        var other = tinyConfig(); other.batchSize = 5
        let u = try GANTrainer(config: other, data: ShuffledImages(tinyData(), seed: 7, flips: false))
        XCTAssertThrowsError(try u.loadCheckpoint(from: ckpt)) { XCTAssertTrue("\($0)".contains("other training settings")) }
    }

    func testExportedModelMatchesTrainerGenerator() throws {
        let t = try GANTrainer(config: tinyConfig(), data: ShuffledImages(tinyData(), seed: 7, flips: false))
        for _ in 0..<3 { t.trainStep() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forger-export-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try t.exportModel(to: dir, name: "tiny", description: "test", training: .object(["steps": .number(3)]))
        let model = try ModelStore.load(dir)
        XCTAssertEqual(model.manifest.training?["steps"], .number(3))
        let expected = t.samples()
        let got = model.generator.forward(t.fixedNoise)
        XCTAssertLessThan(maxAbsDifference(expected, got), 1e-5)
        XCTAssertEqual(model.manifest.outputRange.0, -1)
        // The discriminator is saved beside G and computes what the trainer's D computes.
        let d = try XCTUnwrap(try SavedDiscriminator.load(model))
        XCTAssertEqual(d.blueprints, t.config.architecture.discriminator)
        var rng = RandomStream(seed: 1)
        let images = t.samples()
        XCTAssertLessThan(maxAbsDifference(d.forward(images, training: false, rng: &rng),
                                           t.discriminator.forward(images, training: false, rng: &rng)), 1e-6)
    }

    func testOptimizersMatchHandComputedSteps() {
        // SGD Nesterov, PyTorch semantics: v1 = g, p -= lr (g + mu v1); v2 = mu v1 + g2.
        let p = Parameter(Tensor(shape: [1], data: [1]))
        let sgd = SGD(learningRate: 0.1, momentum: 0.5, nesterov: true)
        p.gradient.data[0] = 2; sgd.step([p])
        XCTAssertEqual(p.value.data[0], 1 - 0.1 * (2 + 0.5 * 2), accuracy: 1e-6)
        p.gradient.data[0] = 1; sgd.step([p])
        XCTAssertEqual(p.value.data[0], 0.7 - 0.1 * (1 + 0.5 * (0.5 * 2 + 1)), accuracy: 1e-6)
        // Adam's first step moves every parameter by lr * sign(g) (bias correction).
        let q = Parameter(Tensor(shape: [2], data: [0, 0]))
        let adam = Adam(learningRate: 2e-4, beta1: 0.5)
        q.gradient.data = [3, -0.01]; adam.step([q])
        XCTAssertEqual(q.value.data[0], -2e-4, accuracy: 1e-8)
        XCTAssertEqual(q.value.data[1], 2e-4, accuracy: 1e-7)
        XCTAssertEqual(LearningRateSchedule(factor: 0.999, every: 10).rate(base: 0.1, epoch: 25), 0.1 * 0.999 * 0.999, accuracy: 1e-9)
    }
}
