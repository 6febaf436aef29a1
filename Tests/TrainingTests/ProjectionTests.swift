import XCTest
import Tensor
import NN
import ModelIO
@testable import Training

/// Projection on Fixtures/projection, a small DCGAN-like generator (transposed convs, eval-mode
/// batch norm, relu, upsample + conv, leaky relu, tanh; z 8 -> 3x16x16) written with the
/// expected losses and gradients by Tools/make_projection_fixtures.py (PyTorch 1.13 autograd).
final class ProjectionTests: XCTestCase {
    func fixture() throws -> LoadedModel {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/projection/model", withExtension: "json"))
        return try ModelStore.load(url.deletingLastPathComponent())
    }

    func cases() throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/projection/cases", withExtension: "safetensors"))
        return Dictionary(uniqueKeysWithValues: try SafeTensors.read(url).map { ($0.name, $0.record.tensor) })
    }

    func projection(_ generator: Generator, loss: ProjectionSettings.Loss = .mse, priorWeight: Float = 0.05,
                    configure: (inout ProjectionSettings) -> Void = { _ in }) throws -> Projection {
        var s = ProjectionSettings()
        s.loss = loss; s.priorWeight = priorWeight
        configure(&s)
        return try Projection(generator: try DifferentiableGenerator(generator), prior: .normal, settings: s)
    }

    /// |a - b| <= atol + rtol |b| for every element.
    func assertClose(_ a: [Float], _ b: [Float], atol: Float, rtol: Float, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where !(abs(x - y) <= atol + rtol * abs(y)) {
            XCTFail("\(what)[\(i)]: \(x) vs expected \(y)", file: file, line: line)
            return
        }
    }

    // MARK: Gradient

    func testLossAndLatentGradientMatchPyTorchAutograd() throws {
        let model = try fixture(), c = try cases()
        let z = try XCTUnwrap(c["z"]), target = try XCTUnwrap(c["target"])
        // Both the generator as the manifest describes it and the batch-norm-folded one sampling uses.
        for generator in [model.generator, model.inferenceGenerator] {
            for loss in ProjectionSettings.Loss.allCases {
                let p = try projection(generator, loss: loss)
                let e = p.evaluate(z, targets: target, rowTarget: [0, 0, 1, 1], gradient: true)
                assertClose(e.reconstruction, try XCTUnwrap(c["recon_\(loss)"]).data, atol: 1e-6, rtol: 1e-4, "\(loss) loss")
                assertClose(e.prior, try XCTUnwrap(c["prior"]).data, atol: 1e-7, rtol: 1e-5, "prior term")
                // Float32 through six layers: 1e-4 relative, 2e-6 absolute (gradients are ~1e-2).
                assertClose(try XCTUnwrap(e.gradient).data, try XCTUnwrap(c["grad_\(loss)"]).data, atol: 2e-6, rtol: 1e-4, "\(loss) gradient")
            }
        }
    }

    func testLatentGradientMatchesFiniteDifferences() throws {
        let model = try fixture(), c = try cases()
        let z = try XCTUnwrap(c["z"]), target = try XCTUnwrap(c["target"])
        let p = try projection(model.generator)
        let rows = [0, 0, 1, 1]
        let analytic = try XCTUnwrap(p.evaluate(z, targets: target, rowTarget: rows, gradient: true).gradient)
        func objective(_ z: Tensor) -> Double {
            let e = p.evaluate(z, targets: target, rowTarget: rows, gradient: false)
            return zip(e.reconstruction, e.prior).reduce(0) { $0 + Double($1.0 + $1.1) }
        }
        let h: Float = 2e-3
        for i in 0..<z.count {
            var plus = z, minus = z
            plus.data[i] += h; minus.data[i] -= h
            let numeric = Float((objective(plus) - objective(minus)) / Double(2 * h))
            // Central differences of a float32 objective (noise ~1e-7 / h) with relu kinks nearby: 2% or 3e-4.
            XCTAssertEqual(analytic.data[i], numeric, accuracy: 3e-4 + 0.02 * abs(numeric), "dz[\(i)]")
        }
    }

    func testFeatureLossFromTheSavedDiscriminatorMatchesPyTorchAutograd() throws {
        let model = try fixture(), c = try cases()
        let d = try XCTUnwrap(try SavedDiscriminator.load(model))
        XCTAssertEqual(SavedDiscriminator.defaultFeatureLayer(d.blueprints), 4)
        let features = try XCTUnwrap(try SavedDiscriminator.load(model, throughLayer: 4))
        var s = ProjectionSettings()
        s.priorWeight = 0.05; s.featureWeight = 0.5
        let p = try Projection(generator: try DifferentiableGenerator(model.inferenceGenerator), prior: .normal, settings: s,
                               features: features)
        let e = p.evaluate(try XCTUnwrap(c["z"]), targets: try XCTUnwrap(c["target"]), rowTarget: [0, 0, 1, 1], gradient: true)
        assertClose(e.feature, try XCTUnwrap(c["feature"]).data, atol: 1e-6, rtol: 1e-4, "feature term")
        assertClose(e.reconstruction, try XCTUnwrap(c["recon_mse"]).data, atol: 1e-6, rtol: 1e-4, "mse loss")
        assertClose(try XCTUnwrap(e.gradient).data, try XCTUnwrap(c["grad_mse_feature"]).data, atol: 2e-6, rtol: 1e-4, "gradient")
        // A feature weight without a discriminator is refused.
        XCTAssertThrowsError(try Projection(generator: try DifferentiableGenerator(model.generator), prior: .normal, settings: s))
        XCTAssertThrowsError(try SavedDiscriminator.load(model, throughLayer: 7))
    }

    // MARK: Round trip

    /// Images the fixture draws from held-out latents are found again: PSNR above 40 dB (peak
    /// to peak 2 for tanh) and latents within 5% of the originals.
    func testRoundTripRecoversHeldOutLatents() throws {
        let model = try fixture()
        var rng = RandomStream(seed: 9001)
        let truth = Tensor(shape: [4, 8], data: (0..<32).map { _ in Float(rng.nextNormal()) })
        let targets = model.generator.forward(truth)
        let p = try projection(model.inferenceGenerator, priorWeight: 0) { $0.steps = 300; $0.restarts = 3 }
        let r = try p.run(targets: targets)
        XCTAssertFalse(r.interrupted)
        XCTAssertEqual(r.evaluations, 301)
        for j in 0..<4 {
            let psnr = 10 * log10(4 / Double(r.reconstruction[j]))
            XCTAssertGreaterThan(psnr, 40, "image \(j)")
            let t = Array(truth.data[(j * 8)..<(j * 8 + 8)])
            let distance = zip(r.latents[j], t).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            let norm = t.map { $0 * $0 }.reduce(0, +).squareRoot()
            XCTAssertLessThan(distance / norm, 0.05, "latent \(j)")
        }
    }

    func testImagesInOneBatchAreProjectedAsAlone() throws {
        let model = try fixture(), c = try cases()
        let target = try XCTUnwrap(c["target"])
        let p = try projection(model.inferenceGenerator) { $0.steps = 20; $0.restarts = 2 }
        let both = try p.run(targets: target)
        let first = try p.run(targets: target.rows(0..<1))
        assertClose(both.latents[0], first.latents[0], atol: 1e-5, rtol: 1e-4, "image 0's latent")
        XCTAssertEqual(both.bestStart[0], first.bestStart[0])
    }

    func testStopKeepsTheBestSoFar() throws {
        final class StopAt: ProjectionReporter {
            let step: Int
            var seen: [Int] = []
            init(_ step: Int) { self.step = step }
            func stepFinished(step: Int, of total: Int, meanBest: Float, elapsed: Double) { seen.append(step) }
            var shouldStop: Bool { seen.last == step }
        }
        let model = try fixture(), c = try cases()
        let p = try projection(model.inferenceGenerator) { $0.steps = 100; $0.snapshotEvery = 4 }
        let stop = StopAt(5)
        let r = try p.run(targets: try XCTUnwrap(c["target"]), reporter: stop)
        XCTAssertTrue(r.interrupted)
        XCTAssertEqual(r.evaluations, 6)
        XCTAssertEqual(stop.seen, Array(0...5))
        XCTAssertEqual(r.snapshotSteps, [0, 4, 5])
        XCTAssertTrue(r.latents.allSatisfy { $0.count == 8 && $0.allSatisfy(\.isFinite) })
        XCTAssertTrue(r.reconstruction.allSatisfy { $0.isFinite && $0 > 0 })
    }

    func testUniformPriorKeepsLatentsInsideItsBounds() throws {
        let model = try fixture(), c = try cases()
        var s = ProjectionSettings()
        s.steps = 30; s.restarts = 1; s.learningRate = 0.5
        let p = try Projection(generator: try DifferentiableGenerator(model.inferenceGenerator),
                               prior: .uniform(low: -0.2, high: 0.2), settings: s)
        let r = try p.run(targets: try XCTUnwrap(c["target"]))
        XCTAssertTrue(r.latents.joined().allSatisfy { $0 >= -0.2 && $0 <= 0.2 })
        XCTAssertEqual(r.prior, [0, 0])
    }

    // MARK: Refusals

    func testRefusesLayersWithoutAGradientAndConditionalModels() throws {
        let w = Tensor(shape: [4, 2], repeating: 0.1)
        let flat = try Generator(latentSize: 2, layers: [.linear(weight: w, bias: nil), .activation(.leakyReLU(slope: 0))])
        XCTAssertThrowsError(try DifferentiableGenerator(flat)) { error in
            guard case ProjectionError.noGradient(let layer, let kind, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(layer, 1); XCTAssertEqual(kind, "leakyrelu")
        }
        let conditional = try Generator(latentSize: 2, conditioning: Conditioning(embedding: Tensor(zeros: [3, 2]), join: .concatLatentFirst),
                                        layers: [.linear(weight: Tensor(shape: [4, 4], repeating: 0.1), bias: nil)])
        XCTAssertThrowsError(try DifferentiableGenerator(conditional, name: "c")) { error in
            XCTAssertEqual(error as? ProjectionError, .conditional(model: "c"))
        }
    }

    func testRefusesSettingsOutsideTheirBounds() throws {
        let model = try fixture()
        for change in [{ (s: inout ProjectionSettings) in s.steps = 0 }, { $0.steps = ProjectionSettings.maxSteps + 1 },
                       { $0.restarts = -1 }, { $0.restarts = 256 }, { $0.learningRate = 0 }, { $0.learningRate = .nan },
                       { $0.warmup = 1 }, { $0.priorWeight = -1 }, { $0.batchSize = 0 }] {
            XCTAssertThrowsError(try projection(model.generator, configure: change))
        }
        let p = try projection(model.generator)
        XCTAssertThrowsError(try p.run(targets: Tensor(zeros: [1, 3, 8, 8]))) { error in
            XCTAssertEqual(error as? ProjectionError, .shapeMismatch(expected: [3, 16, 16], actual: [3, 8, 8]))
        }
    }

    func testLearningRateWarmsUpThenDecays() {
        var s = ProjectionSettings()
        s.steps = 100; s.warmup = 0.1; s.learningRate = 1
        XCTAssertEqual(s.learningRate(step: 0), 0.1, accuracy: 1e-3)
        XCTAssertEqual(s.learningRate(step: 9), 0.980, accuracy: 1e-3)   // ramp done, cosine at 9%
        XCTAssertEqual(s.learningRate(step: 50), 0.5, accuracy: 1e-6)
        XCTAssertLessThan(s.learningRate(step: 99), 0.001)
        s.decay = .exponential
        XCTAssertEqual(s.learningRate(step: 50), 0.1, accuracy: 1e-6)
    }
}
