import XCTest
import Tensor
import ModelIO
import NN
@testable import Training

/// Whole-network gradients against PyTorch 1.13 autograd (Debian python3-torch), from
/// Fixtures/gan_small written by Tools/make_training_fixtures.py: one non-saturating generator
/// step through D, one real half of the discriminator step, batch-norm running statistics,
/// and one Adam step. Fixtures/gan_cond does the same for a class-conditional pair as the
/// trainer builds it: G's embedding joined to z, D's broadcast as extra input channels.
final class PyTorchParityTests: XCTestCase {
    let bn = LayerBlueprint.batchNorm(eps: 1e-5, momentum: 0.1)
    var generatorBlueprints: [LayerBlueprint] {
        [.linear(out: 48, bias: true), bn, .activation(.relu), .reshape([3, 4, 4]), .upsample(scale: 2),
         .conv2d(out: 4, kernel: 3, stride: 1, padding: 2, bias: true), bn, .activation(.relu),
         .conv2d(out: 2, kernel: 4, stride: 2, padding: 1, bias: false), bn, .activation(.leakyReLU(slope: 0.2)),
         .convTranspose2d(out: 1, kernel: 3, stride: 2, padding: 2, outputPadding: 1, bias: true), .activation(.tanh)]
    }
    var discriminatorBlueprints: [LayerBlueprint] {
        [.conv2d(out: 3, kernel: 4, stride: 2, padding: 1, bias: true), .activation(.leakyReLU(slope: 0.2)),
         .conv2d(out: 4, kernel: 3, stride: 2, padding: 1, bias: false), bn, .activation(.leakyReLU(slope: 0.2)),
         .flatten, .linear(out: 1, bias: true)]
    }

    func load(_ file: String, from fixture: String = "gan_small") throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(fixture)/\(file)", withExtension: "safetensors"))
        return Dictionary(uniqueKeysWithValues: try SafeTensors.read(url).map { ($0.name, $0.record.tensor) })
    }

    func network(_ prefix: String, input: [Int], _ blueprints: [LayerBlueprint], _ weights: [String: Tensor]) throws -> Network {
        var rng = RandomStream(seed: 0)
        let net = try Network(inputShape: input, blueprints: blueprints, initialisation: .dcgan, rng: &rng)
        for (name, p) in net.namedParameters + net.namedBuffers {
            let w = try XCTUnwrap(weights[prefix + name], "fixture lacks \(prefix + name)")
            XCTAssertEqual(w.shape, p.value.shape, name)
            p.value = w
        }
        return net
    }

    func testGeneratorAndDiscriminatorGradientsMatchAutograd() throws {
        let weights = try load("weights"), inputs = try load("inputs"), expected = try load("expected")
        let g = try network("G.", input: [6], generatorBlueprints, weights)
        let d = try network("D.", input: [1, 8, 8], discriminatorBlueprints, weights)
        var rng = RandomStream(seed: 0)
        let z = try XCTUnwrap(inputs["z"]), real = try XCTUnwrap(inputs["real"])

        // Generator step: non-saturating loss through D, both in training mode.
        let fake = g.forward(z, training: true, rng: &rng)
        XCTAssertLessThan(maxAbsDifference(fake, try XCTUnwrap(expected["fake"])), 1e-5, "G output")
        let logits = d.forward(fake, training: true, rng: &rng)
        XCTAssertLessThan(maxAbsDifference(logits, try XCTUnwrap(expected["logits_fake"])), 1e-5, "D logits")
        let loss = GANLoss.nonSaturating.generator(fake: logits)
        XCTAssertEqual(loss.loss, try XCTUnwrap(expected["loss_g"]).data[0], accuracy: 1e-5)
        g.zeroGradients(); d.zeroGradients()
        g.backward(try XCTUnwrap(d.backward(loss.gradFake, needInputGradient: true)))
        for (prefix, net) in [("G.", g), ("D.", d)] {
            for (name, p) in net.namedParameters {
                let want = try XCTUnwrap(expected[prefix + name + ".grad"], "no expected gradient for \(prefix + name)")
                assertClose(p.gradient.data, want.data, 1e-4, "\(prefix)\(name) gradient")
            }
        }
        for (name, p) in g.namedBuffers {
            assertClose(p.value.data, try XCTUnwrap(expected["G." + name]).data, 1e-5, "G.\(name) after one training forward")
        }

        // One Adam step on G from those gradients.
        Adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999).step(g.parameters)
        for (name, p) in g.namedParameters {
            // A bias feeding batch norm has a zero gradient up to rounding, and Adam's first step
            // is lr * g / (|g| + eps): there the step is noise in [-lr, lr], so allow 2 lr (4e-4).
            let noise = try XCTUnwrap(expected["G." + name + ".grad"]).data.allSatisfy { abs($0) < 1e-5 }
            assertClose(p.value.data, try XCTUnwrap(expected["adam.G." + name]).data, noise ? 4.01e-4 : 1e-6, "G.\(name) after Adam")
        }

        // The real half of a discriminator step.
        d.zeroGradients()
        let realLogits = d.forward(real, training: true, rng: &rng)
        let r = GANLoss.nonSaturating.discriminatorReal(realLogits)
        XCTAssertEqual(r.loss, try XCTUnwrap(expected["loss_d_real"]).data[0], accuracy: 1e-5)
        d.backward(r.grad)
        for (name, p) in d.namedParameters {
            assertClose(p.gradient.data, try XCTUnwrap(expected["realstep.D." + name + ".grad"]).data, 1e-4, "D.\(name) real-step gradient")
        }
    }

    func testConditionalTrainerGradientsMatchAutograd() throws {
        let weights = try load("weights", from: "gan_cond"), inputs = try load("inputs", from: "gan_cond")
        let expected = try load("expected", from: "gan_cond")
        let z = try XCTUnwrap(inputs["z"]), real = try XCTUnwrap(inputs["real"])
        let labels = try XCTUnwrap(inputs["labels"]).data.map { Int($0) }
        let realLabels = try XCTUnwrap(inputs["real_labels"]).data.map { Int($0) }
        let arch = GANArchitecture(
            name: "cond-parity", latentSize: 4, latentShape: [4, 1, 1],
            generator: [.convTranspose2d(out: 3, kernel: 4, stride: 1, padding: 0, outputPadding: 0, bias: false), bn,
                        .activation(.relu), .upsample(scale: 2), .conv2d(out: 1, kernel: 3, stride: 1, padding: 1, bias: true),
                        .activation(.tanh)],
            discriminator: discriminatorBlueprints)
        let data = ImageDataset(channels: 1, height: 8, width: 8, pixels: [UInt8](repeating: 0, count: 3 * 64), labels: [0, 1, 2],
                                source: "labels only")
        func trainer(_ join: Conditioning.Join, _ g: String) throws -> GANTrainer {
            var config = TrainingConfig(architecture: arch)
            config.conditional = ConditionalSettings(classes: 3, join: join, latentSize: 4, embeddingSize: join == .multiply ? 4 : 2)
            let t = try GANTrainer(config: config, data: ShuffledImages(data, seed: 0, flips: false))
            for (prefix, named) in [(g, t.generatorParameters + t.generator.namedBuffers),
                                    ("D.", t.discriminatorParameters + t.discriminator.namedBuffers)] {
                for (name, p) in named {
                    let w = try XCTUnwrap(weights[prefix + name], "fixture lacks \(prefix + name)")
                    XCTAssertEqual(w.shape, p.value.shape, prefix + name)
                    p.value = w
                }
            }
            return t
        }

        // One generator step through D, for each join, with the trainer's own forward and backward.
        for (join, g) in [(Conditioning.Join.concatLatentFirst, "G."), (.multiply, "GM.")] {
            let t = try trainer(join, g)
            var rng = RandomStream(seed: 0)
            let fake = t.generate(z, labels: labels, training: true, rng: &rng)
            XCTAssertLessThan(maxAbsDifference(fake, try XCTUnwrap(expected[g + "fake"])), 1e-5, "\(join) G output")
            let logits = t.discriminate(fake, labels: labels, rng: &rng)
            XCTAssertLessThan(maxAbsDifference(logits, try XCTUnwrap(expected[g + "logits_fake"])), 1e-5, "\(join) D logits")
            let loss = GANLoss.nonSaturating.generator(fake: logits)
            XCTAssertEqual(loss.loss, try XCTUnwrap(expected[g + "loss_g"]).data[0], accuracy: 1e-5)
            for (_, p) in t.generatorParameters + t.discriminatorParameters { p.zeroGradient() }
            let throughD = try XCTUnwrap(t.discriminatorBackward(loss.gradFake, needInputGradient: true))
            t.generatorBackward(throughD)
            for (prefix, named) in [(g, t.generatorParameters), ("D.", t.discriminatorParameters)] {
                for (name, p) in named {
                    let want = try XCTUnwrap(expected[g + "grad." + prefix + name], "no expected gradient for \(prefix + name)")
                    assertClose(p.gradient.data, want.data, 1e-4, "\(join): \(prefix)\(name) gradient")
                }
            }
            // trainStep's own way through D: the same image gradient, D's layer gradients untouched.
            let before = t.discriminator.namedParameters.map { $0.parameter.gradient.data }
            XCTAssertEqual(t.discriminatorInputGradient(loss.gradFake).data, throughD.data, "\(join): input gradient through D")
            XCTAssertEqual(t.discriminator.namedParameters.map { $0.parameter.gradient.data }, before, "\(join): D's layer gradients")
        }

        // The generator step with a mode-seeking term of weight 0.5 added to G's loss.
        do {
            let t = try trainer(.concatLatentFirst, "G.")
            var rng = RandomStream(seed: 0)
            let fake = t.generate(z, labels: labels, training: true, rng: &rng)
            let loss = GANLoss.nonSaturating.generator(fake: t.discriminate(fake, labels: labels, rng: &rng))
            let term = ModeSeeking(weight: 0.5).term(images: fake, latents: z)
            XCTAssertEqual(term.loss, try XCTUnwrap(expected["ms.loss"]).data[0], accuracy: 1e-4)
            for (_, p) in t.generatorParameters { p.zeroGradient() }
            var grad = t.discriminatorInputGradient(loss.gradFake)
            for i in grad.data.indices { grad.data[i] += term.grad.data[i] }
            t.generatorBackward(grad)
            for (name, p) in t.generatorParameters {
                let want = try XCTUnwrap(expected["ms.grad.G." + name], "no expected gradient for G.\(name)")
                assertClose(p.gradient.data, want.data, 1e-4, "mode seeking: G.\(name) gradient")
            }
        }

        // The real half of a discriminator step: real images with their own labels.
        let t = try trainer(.concatLatentFirst, "G.")
        var rng = RandomStream(seed: 0)
        for (_, p) in t.discriminatorParameters { p.zeroGradient() }
        let r = GANLoss.nonSaturating.discriminatorReal(t.discriminate(real, labels: realLabels, rng: &rng))
        XCTAssertEqual(r.loss, try XCTUnwrap(expected["realstep.loss_d_real"]).data[0], accuracy: 1e-5)
        t.discriminatorBackward(r.grad)
        for (name, p) in t.discriminatorParameters {
            assertClose(p.gradient.data, try XCTUnwrap(expected["realstep.D." + name + ".grad"]).data, 1e-4, "D.\(name) real-step gradient")
        }
    }
}
