import XCTest
import Foundation
@testable import Evaluation
import Tensor
import Training
import ModelIO

func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("forger-eval-tests-\(name)-\(getpid())")
    try? FileManager.default.removeItem(at: url)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Seeded 16x16 grey images: a bright bar, horizontal (label 0), vertical (1) or a square (2), plus noise.
func shapes(count: Int, seed: UInt64, size: Int = 16) -> ImageDataset {
    var rng = RandomStream(seed: seed)
    var pixels = [UInt8](repeating: 0, count: count * size * size), labels: [Int] = []
    for i in 0..<count {
        let label = rng.nextIndex(3), at = 3 + rng.nextIndex(size - 8)
        labels.append(label)
        for y in 0..<size { for x in 0..<size {
            let on: Bool
            switch label {
            case 0: on = y >= at && y < at + 3
            case 1: on = x >= at && x < at + 3
            default: on = x >= at && x < at + 5 && y >= at && y < at + 5
            }
            pixels[i * size * size + y * size + x] = UInt8((on ? 200 : 10) + rng.nextIndex(40))
        } }
    }
    return ImageDataset(channels: 1, height: size, width: size, pixels: pixels, labels: labels, source: "shapes \(seed)")
}

func smallClassifierManifest(size: Int = 16) -> ClassifierManifest {
    let blueprints: [LayerBlueprint] = [
        .conv2d(out: 4, kernel: 3, stride: 2, padding: 1, bias: true), .activation(.relu),   // (N, 4, 8, 8)
        .flatten, .linear(out: 8, bias: true), .activation(.relu),                           // (N, 8) features
        .linear(out: 3, bias: true),                                                         // (N, 3)
    ]
    return ClassifierManifest(name: "shapes", inputShape: [1, size, size], classes: ["h", "v", "sq"],
                              featureLayer: 4, layers: blueprints.map(ClassifierLayer.init))
}

final class ClassifierTests: XCTestCase {
    func testSaveLoadRoundTripAndErrors() throws {
        let dir = try temporaryDirectory("classifier")
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try Classifier(manifest: .digits(), seed: 3)
        XCTAssertEqual(c.featureSize, 64)
        XCTAssertEqual(c.network.parameterCount, 114_314)
        try c.save(to: dir)
        let back = try Classifier.load(dir)
        XCTAssertEqual(back.manifest, c.manifest)
        var rng = RandomStream(seed: 1)
        let x = Tensor(shape: [3, 1, 28, 28], data: (0..<(3 * 784)).map { _ in Float(rng.nextUnit()) })
        let (f1, p1) = c.outputs(x), (f2, p2) = back.outputs(x)
        XCTAssertEqual(maxAbsDifference(f1, f2), 0)
        XCTAssertEqual(maxAbsDifference(p1, p2), 0)
        XCTAssertEqual(f1.shape, [3, 64]); XCTAssertEqual(p1.shape, [3, 10])

        // A generator directory or a broken manifest: the message names the file and says what to do.
        XCTAssertThrowsError(try Classifier.load(dir.appendingPathComponent("nothing"))) { e in
            XCTAssertTrue("\(e)".contains("forger evaluate train-classifier"), "\(e)")
        }
        var bad = c.manifest
        bad.featureLayer = 7
        XCTAssertThrowsError(try Classifier(manifest: bad, seed: 0)) { e in XCTAssertTrue("\(e)".contains("feature_layer"), "\(e)") }
        try Data(#"{"format": "forger-model"}"#.utf8).write(to: dir.appendingPathComponent(Classifier.manifestFile))
        XCTAssertThrowsError(try Classifier.load(dir)) { e in XCTAssertTrue("\(e)".contains(Classifier.manifestFile), "\(e)") }
    }

    /// Three easily separated shapes: one epoch of a tiny CNN must learn them.
    func testTrainingLearnsSeparableShapes() throws {
        let c = try Classifier(manifest: smallClassifierManifest(), seed: 0)
        let train = shapes(count: 600, seed: 1), test = shapes(count: 200, seed: 2)
        XCTAssertLessThan(ClassifierTrainer.testAccuracy(c, test), 0.6, "untrained must be near chance")
        var epochs: [ClassifierEpoch] = []
        let last = try ClassifierTrainer.train(c, train: train, test: test,
                                               config: ClassifierTrainingConfig(epochs: 2, batchSize: 16, learningRate: 3e-3, seed: 0)) { epochs.append($0) }
        XCTAssertEqual(epochs.count, 2)
        XCTAssertGreaterThan(last.testAccuracy, 0.95)
        XCTAssertLessThan(epochs[1].trainLoss, 0.5)
        var unlabelled = test
        unlabelled.labels = nil
        XCTAssertThrowsError(try ClassifierTrainer.train(c, train: train, test: unlabelled, config: .init(epochs: 1))) { e in
            XCTAssertTrue("\(e)".contains("label"), "\(e)")
        }
    }
}

final class EvaluatorTests: XCTestCase {
    /// A tiny generator (linear 4 -> 256, reshape, sigmoid) saved and loaded as a model directory.
    func tinyModel() throws -> (LoadedModel, URL) {
        var rng = RandomStream(seed: 5)
        let net = try Network(inputShape: [4], blueprints: [.linear(out: 256, bias: true), .reshape([1, 16, 16]), .activation(.sigmoid)],
                              initialisation: .heNormal, rng: &rng)
        let (specs, tensors) = net.exportSpecs()
        let manifest = ModelManifest(name: "tiny", latentSize: 4, outputChannels: 1, outputHeight: 16, outputWidth: 16,
                                     outputRange: (0, 1), layers: specs)
        let dir = try temporaryDirectory("model")
        try ModelStore.save(manifest, tensors: tensors, to: dir.appendingPathComponent("tiny"))
        return (try ModelStore.load(dir.appendingPathComponent("tiny")), dir)
    }

    func testEndToEndReportIsConsistentAndDeterministic() throws {
        let (model, dir) = try tinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        let classifier = try Classifier(manifest: smallClassifierManifest(), seed: 1)
        var settings = EvaluationSettings()
        settings.samples = 40; settings.swdImages = 16; settings.nearestPairs = 6; settings.floorImages = 30
        settings.swd.descriptorsPerImage = 16; settings.swd.directionsPerRepeat = 16   // fast; the full SWD is tested in SWDTests
        let train = shapes(count: 64, seed: 3), test = shapes(count: 30, seed: 4)
        let (report, grid) = try Evaluator.evaluate(model, train: train, test: test, classifier: classifier, settings: settings)
        let c = try XCTUnwrap(report.classifierMetrics)
        XCTAssertEqual(c.classShares.map(\.share).reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertTrue(c.meanConfidence >= 1.0 / 3 && c.meanConfidence <= 1, "\(c.meanConfidence)")
        XCTAssertGreaterThanOrEqual(c.frechetDistance, 0)
        XCTAssertNotNil(c.frechetFloor)
        XCTAssertEqual(c.frechetReference, "30 test images")
        XCTAssertEqual(report.swd.levels.map(\.resolution), [16])
        XCTAssertNotNil(report.swdFloor)
        XCTAssertEqual(report.nearest.pairs, 6)
        XCTAssertNotNil(report.nearest.medianRealDistance)
        XCTAssertGreaterThan(grid.width, 8 * 32)
        // Sample i is the generator's output for latent seed + i, quantised to bytes.
        let samples = Evaluator.generate(model, count: 3, seed: 0, batchSize: 2)
        XCTAssertEqual(Evaluator.generate(model, count: 3, seed: 0, batchSize: 3).pixels, samples.pixels)
        let table = EvaluationTable.render(report)
        XCTAssertTrue(table.contains("Fréchet distance") && table.contains("SWD x1e3"), table)

        var again = try Evaluator.evaluate(model, train: train, test: test, classifier: classifier, settings: settings).0
        again.seconds = report.seconds
        XCTAssertEqual(again, report)
        let json = try JSONEncoder().encode(report)
        XCTAssertEqual(try JSONDecoder().decode(EvaluationReport.self, from: json), report)

        // Data of another size: a clear error naming the option and the sizes.
        XCTAssertThrowsError(try Evaluator.evaluate(model, train: shapes(count: 64, seed: 3, size: 20), test: nil,
                                                    classifier: nil, settings: settings)) { e in
            XCTAssertTrue("\(e)".contains("--data") && "\(e)".contains("1x16x16"), "\(e)")
        }
    }

    /// A conditional generator that ignores its latent and draws shape `drawn[c]` for class c
    /// (a bright horizontal bar, vertical bar or square at a fixed place).
    func classModel(drawing drawn: [Int]) throws -> (LoadedModel, URL) {
        var rng = RandomStream(seed: 5)
        let net = try Network(inputShape: [4 + 3], blueprints: [.linear(out: 256, bias: false), .reshape([1, 16, 16]), .activation(.sigmoid)],
                              initialisation: .heNormal, rng: &rng)
        let weight = try XCTUnwrap(net.namedParameters.first?.parameter)
        XCTAssertEqual(weight.value.shape, [256, 7])
        var w = [Float](repeating: 0, count: 256 * 7)                 // (out, in): latent columns stay 0
        for c in 0..<3 { for y in 0..<16 { for x in 0..<16 {
            let on: Bool
            switch drawn[c] {
            case 0: on = y >= 6 && y < 9
            case 1: on = x >= 6 && x < 9
            default: on = x >= 5 && x < 10 && y >= 5 && y < 10
            }
            w[(y * 16 + x) * 7 + 4 + c] = on ? 3 : -3
        } } }
        weight.value = Tensor(shape: [256, 7], data: w)
        var (specs, tensors) = net.exportSpecs()
        tensors.insert(("embedding", TensorRecord(Tensor(shape: [3, 3], data: [1, 0, 0, 0, 1, 0, 0, 0, 1]))), at: 0)
        let manifest = ModelManifest(name: "classes", latentSize: 4, outputChannels: 1, outputHeight: 16, outputWidth: 16,
                                     outputRange: (0, 1),
                                     conditioning: ConditioningSpec(classes: 3, embedding: "embedding", join: .concatLatentFirst),
                                     layers: specs)
        let dir = try temporaryDirectory("classes")
        try ModelStore.save(manifest, tensors: tensors, to: dir.appendingPathComponent("classes"))
        return (try ModelStore.load(dir.appendingPathComponent("classes")), dir)
    }

    /// Per-class mode: each class's share of the samples asked for it that the classifier
    /// labels as it. A generator that draws the right shapes scores 1 for every class; one that
    /// swaps classes 0 and 1 scores 0 for those two and still 1 for the third.
    func testConditionalModelGetsPerClassAgreement() throws {
        let classifier = try Classifier(manifest: smallClassifierManifest(), seed: 0)
        _ = try ClassifierTrainer.train(classifier, train: shapes(count: 600, seed: 1), test: shapes(count: 200, seed: 2),
                                        config: ClassifierTrainingConfig(epochs: 2, batchSize: 16, learningRate: 3e-3, seed: 0))
        var settings = EvaluationSettings()
        settings.samples = 30; settings.swdImages = 16; settings.nearestPairs = 4; settings.floorImages = 30
        settings.swd.descriptorsPerImage = 16; settings.swd.directionsPerRepeat = 16
        for (drawn, expected) in [([0, 1, 2], [1.0, 1.0, 1.0]), ([1, 0, 2], [0.0, 0.0, 1.0])] {
            let (model, dir) = try classModel(drawing: drawn)
            defer { try? FileManager.default.removeItem(at: dir) }
            let report = try Evaluator.evaluate(model, train: shapes(count: 64, seed: 3), test: nil, classifier: classifier, settings: settings).0
            let agreement = try XCTUnwrap(report.classifierMetrics?.requestedClassAgreement, "a conditional model gets per-class figures")
            XCTAssertEqual(agreement.map(\.label), ["h", "v", "sq"])
            XCTAssertEqual(agreement.map(\.share), expected, "drawing \(drawn)")
            XCTAssertTrue(EvaluationTable.render(report).contains("asked-for class recognised"))
        }
        // An unconditional model has no per-class figures.
        let (plain, dir) = try tinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertNil(try Evaluator.evaluate(plain, train: shapes(count: 64, seed: 3), test: nil, classifier: classifier, settings: settings)
            .0.classifierMetrics?.requestedClassAgreement)
    }
}
