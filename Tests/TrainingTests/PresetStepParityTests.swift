import XCTest
import Foundation
import Tensor
import ModelIO
@testable import Training

/// One training step of the DCGAN presets against PyTorch 1.13 autograd: the discriminator's
/// accumulated real + fake gradients, the generator's gradients through D, and the batch-norm
/// running statistics of both networks. Fixture: Tools/make_gan_step_fixture.py (the committed
/// ones are the 64-px pairs at width 4; FORGER_STEP_FIXTURE=DIR checks a bigger one made with --out).
final class PresetStepParityTests: XCTestCase {
    struct Config: Decodable { var generator: String; var size, channels, width, batch, latent: Int }

    func fixture(_ name: String) throws -> URL {
        if let dir = ProcessInfo.processInfo.environment["FORGER_STEP_FIXTURE"] { return URL(fileURLWithPath: dir) }
        return try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    }

    func tensors(_ dir: URL, _ file: String) throws -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: try SafeTensors.read(dir.appendingPathComponent(file + ".safetensors"))
            .map { ($0.name, $0.record.tensor) })
    }

    /// Largest difference relative to the tensor's largest expected magnitude: gradients from a
    /// N(0, 0.02) initialisation are tiny, so an element-wise absolute floor would hide errors.
    func assertMatches(_ got: Tensor, _ want: Tensor?, _ tolerance: Float, _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let want = try XCTUnwrap(want, "fixture lacks \(what)", file: file, line: line)
        XCTAssertEqual(got.shape.reduce(1, *), want.count, "\(what) size", file: file, line: line)
        let scale = max(want.data.map(abs).max() ?? 0, 1e-12)
        var worst: Float = 0
        for i in 0..<min(got.count, want.count) { worst = max(worst, abs(got.data[i] - want.data[i]) / scale) }
        XCTAssertLessThan(worst, tolerance, "\(what): worst difference is \(worst) of the largest magnitude \(scale)",
                          file: file, line: line)
    }

    /// Each preset builds at the sizes it claims and makes images of that size; others are refused.
    func testPresetSizes() throws {
        for size in [28, 32, 64, 48] {
            for (name, preset) in [("dcgan", GANArchitecture.dcgan), ("dcgan-upsample", GANArchitecture.dcganUpsample)] {
                let arch = preset(size, 3, 4, 8)
                let supported = name == "dcgan" ? [28, 32, 64].contains(size) : [32, 64].contains(size)
                guard supported else { XCTAssertNil(arch, "\(name) at \(size) px"); continue }
                let a = try XCTUnwrap(arch, "\(name) at \(size) px")
                var rng = RandomStream(seed: 1)
                let g = try Network(inputShape: [8, 1, 1], blueprints: a.generator, initialisation: .dcgan, rng: &rng)
                XCTAssertEqual(g.outputShape, [3, size, size], "\(name) at \(size) px")
                let d = try Network(inputShape: [3, size, size], blueprints: a.discriminator, initialisation: .dcgan, rng: &rng)
                XCTAssertEqual(d.outputShape, [1], "\(name) at \(size) px")
            }
        }
    }

    func testDCGANStepMatchesAutograd() throws { try checkStep(try fixture("dcgan64_step")) }

    func testDCGANUpsampleStepMatchesAutograd() throws { try checkStep(try fixture("dcgan_upsample64_step")) }

    func checkStep(_ dir: URL) throws {
        let config = try JSONDecoder().decode(Config.self, from: Data(contentsOf: dir.appendingPathComponent("config.json")))
        let preset = config.generator == "upsample" ? GANArchitecture.dcganUpsample : GANArchitecture.dcgan
        let arch = try XCTUnwrap(preset(config.size, config.channels, config.width, config.latent))
        let weights = try tensors(dir, "weights"), inputs = try tensors(dir, "inputs"), expected = try tensors(dir, "expected")
        var rng = RandomStream(seed: 0)
        let g = try Network(inputShape: [config.latent, 1, 1], blueprints: arch.generator, initialisation: .dcgan, rng: &rng)
        let d = try Network(inputShape: [config.channels, config.size, config.size], blueprints: arch.discriminator,
                            initialisation: .dcgan, rng: &rng)
        for (prefix, net) in [("G.", g), ("D.", d)] {
            for (name, p) in net.namedParameters + net.namedBuffers {
                let w = try XCTUnwrap(weights[prefix + name], "fixture lacks \(prefix + name)")
                XCTAssertEqual(w.shape, p.value.shape, prefix + name)
                p.value = w
            }
        }
        let z1 = try XCTUnwrap(inputs["z1"]), z2 = try XCTUnwrap(inputs["z2"]), real = try XCTUnwrap(inputs["real"])
        let loss = GANLoss.nonSaturating

        // Discriminator step, as GANTrainer.trainStep does it.
        let fake1 = g.forward(z1, training: true, rng: &rng)
        d.zeroGradients()
        let realLogits = d.forward(real, training: true, rng: &rng)
        let r = loss.discriminatorReal(realLogits)
        d.backward(r.grad)
        let fakeLogits = d.forward(fake1, training: true, rng: &rng)
        let f = loss.discriminatorFake(fakeLogits)
        d.backward(f.grad)
        try assertMatches(realLogits, expected["logits_real"], 1e-4, "D(real)")
        try assertMatches(fakeLogits, expected["logits_fake"], 1e-4, "D(G(z1))")
        XCTAssertEqual(r.loss + f.loss, try XCTUnwrap(expected["loss_d"]).data[0], accuracy: 1e-5)
        for (name, p) in d.namedParameters {
            try assertMatches(p.gradient, expected["dstep.D." + name + ".grad"], 1e-3, "D.\(name) gradient, discriminator step")
        }

        // Generator step.
        g.zeroGradients(); d.zeroGradients()
        let fake2 = g.forward(z2, training: true, rng: &rng)
        try assertMatches(fake2, expected["fake2"], 1e-4, "G(z2)")
        let logits = d.forward(fake2, training: true, rng: &rng)
        let gl = loss.generator(fake: logits)
        XCTAssertEqual(gl.loss, try XCTUnwrap(expected["loss_g"]).data[0], accuracy: 1e-5)
        // The trainer's way through D: the input gradient only, D's own gradients untouched
        // (they were zeroed above), and bit for bit what a full backward gives.
        let throughD = d.inputGradient(gl.gradFake)
        for (name, p) in d.namedParameters {
            XCTAssertTrue(p.gradient.data.allSatisfy { $0 == 0 }, "D.\(name) gradient touched by inputGradient")
            XCTAssertTrue(p.requiresGradient, "D.\(name) requiresGradient restored")
        }
        XCTAssertEqual(throughD.data, try XCTUnwrap(d.backward(gl.gradFake, needInputGradient: true)).data)
        g.backward(throughD)
        for (name, p) in g.namedParameters {
            try assertMatches(p.gradient, expected["gstep.G." + name + ".grad"], 1e-3, "G.\(name) gradient, generator step")
        }
        for (prefix, net) in [("G.", g), ("D.", d)] {
            for (name, p) in net.namedBuffers {
                try assertMatches(p.value, expected[prefix + name], 1e-4, "\(prefix)\(name) after the step")
            }
        }
    }
}
