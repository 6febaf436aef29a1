import XCTest
import Tensor
import ModelIO
@testable import Training

/// The generator's weight average: it follows the live weights by its formula after every
/// generator step, survives a resume bit for bit, and is what samples and export use.
final class WeightAverageTests: XCTestCase {
    func averagedConfig() -> TrainingConfig {
        var c = tinyConfig()
        c.averageDecay = 0.9
        return c
    }

    func data() -> ShuffledImages { ShuffledImages(tinyData(), seed: 7, flips: true) }

    /// Folds the live values seen after each step with d_t = min(decay, (1 + t) / (10 + t)), in
    /// Double, from the initial values; the trainer's Float average must agree to 1e-6.
    func testAverageFollowsTheFormulaFromTheInitialWeights() throws {
        let t = try GANTrainer(config: averagedConfig(), data: data())
        let live = { t.averagedTensors.flatMap { $0.parameter.value.data }.map(Double.init) }
        var expected = live()
        XCTAssertEqual(try XCTUnwrap(t.average).values.flatMap(\.data).map(Double.init), expected, "the average starts at the initial weights")
        for step in 1...5 {
            t.trainStep()
            let d = min(0.9, Double(1 + step) / Double(10 + step))
            expected = zip(expected, live()).map { d * $0 + (1 - d) * $1 }
        }
        let got = try XCTUnwrap(t.average).values.flatMap(\.data)
        XCTAssertEqual(got.count, expected.count)
        let worst = zip(got, expected).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-6)
        XCTAssertNotEqual(got.map(Double.init), live(), "after 5 steps the average differs from the live weights")
    }

    func testResumeRestoresTheAverageBitForBit() throws {
        let config = averagedConfig()
        let straight = try GANTrainer(config: config, data: data())
        for _ in 0..<6 { straight.trainStep() }
        let dir = try temporaryDirectory("ema-resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = dir.appendingPathComponent("checkpoint.safetensors")
        try TrainingRun(totalSteps: 3, checkpoint: checkpoint).run(try GANTrainer(config: config, data: data()), reporter: SilentReporter())
        let resumed = try GANTrainer(config: config, data: data())
        try assertResumesExactly(resumed, from: checkpoint, as: straight, "with a weight average")
        let a = try XCTUnwrap(straight.average).values.flatMap(\.data), b = try XCTUnwrap(resumed.average).values.flatMap(\.data)
        XCTAssertTrue(a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }, "resumed average differs")
    }

    func testCheckpointsWithAndWithoutAnAverageDoNotMix() throws {
        let dir = try temporaryDirectory("ema-mix")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appendingPathComponent("plain.safetensors")
        XCTAssertFalse(tinyConfig().fingerprint.contains("ema"), "runs without an average keep their fingerprint")
        try GANTrainer(config: tinyConfig(), data: data()).saveCheckpoint(to: plain)
        XCTAssertThrowsError(try GANTrainer(config: averagedConfig(), data: data()).loadCheckpoint(from: plain)) {
            XCTAssertTrue("\($0)".contains("other training settings"), "\($0)")
        }
    }

    func testExportAndSamplesUseTheAverage() throws {
        let t = try GANTrainer(config: averagedConfig(), data: data())
        for _ in 0..<4 { t.trainStep() }
        let dir = try temporaryDirectory("ema-export")
        defer { try? FileManager.default.removeItem(at: dir) }
        let liveBefore = t.averagedTensors.flatMap { $0.parameter.value.data }
        try t.exportModel(to: dir, name: "tiny", description: "test", training: nil)
        XCTAssertEqual(t.averagedTensors.flatMap { $0.parameter.value.data }, liveBefore, "export puts the live weights back")
        let model = try ModelStore.load(dir)
        let exported = model.generator.forward(t.fixedNoise)
        XCTAssertLessThan(maxAbsDifference(exported, t.samples()), 1e-5, "samples come from the exported (averaged) generator")
        var rng = RandomStream(seed: 0)
        let live = t.generator.forward(t.fixedNoise, training: false, rng: &rng)
        XCTAssertGreaterThan(maxAbsDifference(exported, live), 1e-4, "the exported generator is the average, not the live one")
    }

    func testDecayOutsideTheUnitIntervalIsRefused() {
        for decay: Float in [0, 1, -0.5, .nan] {
            var c = tinyConfig()
            c.averageDecay = decay
            XCTAssertThrowsError(try GANTrainer(config: c, data: data())) { XCTAssertTrue("\($0)".contains("between 0 and 1"), "\($0)") }
        }
    }
}
