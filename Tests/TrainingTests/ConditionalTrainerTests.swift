import XCTest
import Tensor
import NN
import ModelIO
@testable import Training

/// Class-conditional training: resume stays bit-exact with both embeddings and their optimiser
/// state in the checkpoint, the exported model is conditional in the engine and has learned
/// which class is which, and unusable settings are refused with what to do.
final class ConditionalTrainerTests: XCTestCase {
    /// G views its joined latent as (Z + D, 1, 1), as the dcgan preset does.
    func config(join: Conditioning.Join = .concatLatentFirst) -> TrainingConfig {
        let arch = GANArchitecture(
            name: "tiny-cond", latentSize: 4, latentShape: [4, 1, 1],
            generator: [.convTranspose2d(out: 4, kernel: 4, stride: 1, padding: 0, outputPadding: 0, bias: false),   // (N, 4, 4, 4)
                        .batchNorm(eps: 1e-5, momentum: 0.1), .activation(.relu), .upsample(scale: 2),                  // (N, 4, 8, 8)
                        .conv2d(out: 1, kernel: 3, stride: 1, padding: 1, bias: true), .activation(.tanh)],             // (N, 1, 8, 8)
            // Two convolutions: one barely relates the label channels to the brightness it sees.
            discriminator: [.conv2d(out: 8, kernel: 4, stride: 2, padding: 1, bias: true), .activation(.leakyReLU(slope: 0.2)),  // (N, 8, 4, 4)
                            .conv2d(out: 8, kernel: 4, stride: 2, padding: 1, bias: true), .activation(.leakyReLU(slope: 0.2)),  // (N, 8, 2, 2)
                            .flatten, .dropout(rate: 0.2), .linear(out: 1, bias: true)])
        var c = TrainingConfig(architecture: arch)
        c.batchSize = 8; c.discriminatorSteps = 2; c.seed = 11; c.sampleCount = 6
        c.generatorOptimizer = .adam(learningRate: 2e-3, beta1: 0.5, beta2: 0.999)
        c.discriminatorOptimizer = .adam(learningRate: 2e-3, beta1: 0.5, beta2: 0.999)
        c.conditional = ConditionalSettings(classes: 3, join: join, latentSize: 4, classNames: ["dark", "grey", "bright"])
        return c
    }

    /// Levels of the three classes in tanh's range: dark, grey and bright images.
    let levels: [Float] = [-0.65, 0, 0.65]

    /// 8x8 grey images, class c at `levels[c]` with noise.
    func labelledData(count: Int = 48) -> ImageDataset {
        var rng = RandomStream(seed: 5)
        let labels = (0..<count).map { $0 % 3 }
        let pixels = labels.flatMap { label in
            (0..<64).map { _ in UInt8((Double(levels[label] + 1) * 127.5 + 30 * (rng.nextUnit() - 0.5)).rounded()) }
        }
        return ImageDataset(channels: 1, height: 8, width: 8, pixels: pixels, labels: labels,
                            classNames: ["dark", "grey", "bright"], source: "synthetic")
    }

    func trainer(_ c: TrainingConfig, flips: Bool = true) throws -> GANTrainer {
        try GANTrainer(config: c, data: ShuffledImages(labelledData(), seed: c.seed, flips: flips))
    }

    func testConditionalResumeIsBitExact() throws {
        for (join, optimizer) in [(Conditioning.Join.concatLatentFirst, OptimizerChoice.adam(learningRate: 2e-3, beta1: 0.5, beta2: 0.999)),
                                  (.multiply, .sgd(learningRate: 0.01, momentum: 0.6, nesterov: true))] {
            var c = config(join: join)
            c.generatorOptimizer = optimizer; c.discriminatorOptimizer = optimizer
            let straight = try trainer(c)
            for _ in 0..<6 { straight.trainStep() }

            let dir = try temporaryDirectory("cond-resume")
            defer { try? FileManager.default.removeItem(at: dir) }
            let ckpt = dir.appendingPathComponent("checkpoint.safetensors")
            try TrainingRun(totalSteps: 3, checkpoint: ckpt).run(try trainer(c), reporter: SilentReporter())
            let names = try SafeTensors.read(ckpt).map(\.name)
            for name in ["G.embedding", "D.embedding"] + (join == .multiply ? ["G.opt.embedding.momentum", "D.opt.embedding.momentum"]
                                                                              : ["G.opt.embedding.m", "G.opt.embedding.v", "D.opt.embedding.v"]) {
                XCTAssertTrue(names.contains(name), "\(join): the checkpoint lacks \(name)")
            }
            try assertResumesExactly(try trainer(c), from: ckpt, as: straight, "\(join)")
            let fresh = try trainer(c)
            XCTAssertNotEqual(straight.latentJoin!.embedding.table.value.data, fresh.latentJoin!.embedding.table.value.data,
                              "\(join): G's class embedding was not trained")
            XCTAssertNotEqual(straight.labelChannels!.embedding.table.value.data, fresh.labelChannels!.embedding.table.value.data,
                              "\(join): D's label channels were not trained")
        }
    }

    func testUnconditionalSettingsRefuseAConditionalCheckpoint() throws {
        let dir = try temporaryDirectory("cond-refuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("c.safetensors")
        try trainer(config()).saveCheckpoint(to: ckpt)
        var plain = config(); plain.conditional = nil
        XCTAssertThrowsError(try trainer(plain).loadCheckpoint(from: ckpt)) { XCTAssertTrue("\($0)".contains("other training settings"), "\($0)") }
        XCTAssertThrowsError(try trainer(config(join: .concatLabelFirst)).loadCheckpoint(from: ckpt)) {
            XCTAssertTrue("\($0)".contains("other training settings"), "\($0)")
        }
    }

    func testExportedModelIsConditionalAndHasLearnedTheClasses() throws {
        let t = try trainer(config(), flips: false)
        try TrainingRun(totalSteps: 150).run(t, reporter: SilentReporter())
        let dir = try temporaryDirectory("cond-export")
        defer { try? FileManager.default.removeItem(at: dir) }
        try t.exportModel(to: dir, name: "tiny-cond", description: "test", training: nil)
        let model = try ModelStore.load(dir)
        let spec = try XCTUnwrap(model.manifest.conditioning, "model.json has no conditioning section")
        XCTAssertEqual(spec.classes, 3)
        XCTAssertEqual(spec.join, .concatLatentFirst)
        XCTAssertEqual(spec.labels, ["dark", "grey", "bright"])
        XCTAssertEqual(model.manifest.latentSize, 4)
        XCTAssertEqual(model.manifest.latentShape, [7, 1, 1], "the joined latent's view: 4 values and a 3-wide embedding")

        // D is saved beside G with its label channels: the same values as the trainer's, the
        // input shape counting the class channels; the feature loss refuses it by name.
        let section = try XCTUnwrap(model.manifest.extra[SavedDiscriminator.key], "no discriminator section")
        XCTAssertEqual(section["label_channels"], .object(["classes": .number(3), "channels": .number(3), "embedding": .string("embedding")]))
        XCTAssertEqual(section["input_shape"], .array([4, 8, 8].map { .number($0) }), "1 image channel + 3 label channels")
        let saved = Dictionary(uniqueKeysWithValues: try SafeTensors.read(dir.appendingPathComponent(SavedDiscriminator.weightsFile))
            .map { ($0.name, $0.record.values) })
        XCTAssertEqual(saved["embedding"], t.labelChannels!.embedding.table.value.data)
        for (name, p) in t.discriminator.namedParameters { XCTAssertEqual(saved[name], p.value.data, "D's \(name)") }
        XCTAssertThrowsError(try SavedDiscriminator.load(model)) { XCTAssertTrue("\($0)".contains("class-conditional"), "\($0)") }

        // The engine computes what the trainer's generator does, class by class.
        XCTAssertEqual(t.fixedLabels, [0, 1, 2, 0, 1, 2])
        XCTAssertLessThan(maxAbsDifference(model.generator.forward(t.fixedNoise, labels: t.fixedLabels), t.samples()), 1e-5)

        // Same latents, other class: other images, and nearly every image of a class is nearest
        // its own class's level (a model ignoring or mixing up labels gets about a third).
        var rng = RandomStream(seed: 99)
        let n = 30
        let z = LatentDistribution.normal.sample(count: n, size: 4, rng: &rng)
        var outputs: [Tensor] = []
        for c in 0..<3 {
            let y = model.generator.forward(z, labels: [Int](repeating: c, count: n))
            outputs.append(y)
            let nearest = (0..<n).map { i -> Int in
                let mean = y.data[(i * 64)..<((i + 1) * 64)].reduce(0, +) / 64
                return (0..<3).min { abs(mean - levels[$0]) < abs(mean - levels[$1]) }!
            }
            XCTAssertGreaterThanOrEqual(nearest.filter { $0 == c }.count, n * 8 / 10,
                                        "class \(c) (\(spec.labels![c])): images nearest each level \((0..<3).map { k in nearest.filter { $0 == k }.count })")
        }
        // A class walk's one-hot keyframes are the plain labelled outputs.
        var oneHot = Tensor(zeros: [n, 3])
        for i in 0..<n { oneHot.data[i * 3 + 2] = 1 }
        XCTAssertLessThan(maxAbsDifference(model.generator.forward(z, classWeights: oneHot), outputs[2]), 1e-6)
    }

    func testDefaultEmbeddingSizes() {
        let concat = ConditionalSettings(classes: 10, latentSize: 100)
        XCTAssertEqual([concat.embeddingSize, concat.discriminatorChannels], [10, 10])
        XCTAssertEqual(ConditionalSettings(classes: 10, join: .multiply, latentSize: 100).embeddingSize, 100)
        XCTAssertEqual(ConditionalSettings(classes: 200, latentSize: 100).discriminatorChannels, 16, "D's channels are capped")
    }

    func testUnusableConditionalSettingsAreRefused() throws {
        let unlabelled = ImageDataset(channels: 1, height: 8, width: 8, pixels: [UInt8](repeating: 9, count: 4 * 64), source: "x")
        XCTAssertThrowsError(try GANTrainer(config: config(), data: ShuffledImages(unlabelled, seed: 0, flips: false))) {
            XCTAssertTrue("\($0)".contains("the data has no labels; give --labels"), "\($0)")
        }
        var fourClasses = labelledData(); fourClasses.labels![0] = 3
        XCTAssertThrowsError(try GANTrainer(config: config(), data: ShuffledImages(fourClasses, seed: 0, flips: false))) {
            XCTAssertTrue("\($0)".contains("the labels run up to class 3 but the model has 3 classes"), "\($0)")
        }
        var one = config(); one.conditional!.classes = 1
        XCTAssertThrowsError(try trainer(one)) { XCTAssertTrue("\($0)".contains("needs at least 2"), "\($0)") }
        var wide = config(join: .multiply); wide.conditional!.embeddingSize = 3
        XCTAssertThrowsError(try trainer(wide)) { XCTAssertTrue("\($0)".contains("the multiply join needs a class embedding of the latent size (4), not 3"), "\($0)") }
        var spatial = config(); spatial.architecture.latentShape = [1, 2, 2]
        XCTAssertThrowsError(try trainer(spatial)) { XCTAssertTrue("\($0)".contains("views it as"), "\($0)") }
        XCTAssertEqual(try config().conditional!.joinedShape(latentSize: 4, latentShape: nil), [7])
    }
}
