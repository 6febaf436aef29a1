import XCTest
import Tensor
import ModelIO
@testable import Training

/// Whole-network gradients against PyTorch 1.13 autograd (Debian python3-torch), from
/// Fixtures/gan_small written by Tools/make_training_fixtures.py: one non-saturating generator
/// step through D, one real half of the discriminator step, batch-norm running statistics,
/// and one Adam step.
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

    func load(_ file: String) throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/gan_small/\(file)", withExtension: "safetensors"))
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
}
