import Foundation
import Tensor
import NN
import Training

/// A two-sample test by classifier: a small CNN is trained to tell real images from a
/// generator's samples, then scored on real and generated images it has not seen. A held-out
/// accuracy of 50% means it cannot tell them apart; near 100%, every sample gives itself away.
/// Unlike SWD or a Fréchet distance it needs no fixed feature space, so it works on any data.
public enum TwoSampleJudge {
    public struct Settings: Equatable, Sendable {
        /// Images of each kind the judge trains on.
        public var trainImages = 4000
        /// Images of each kind it is scored on (none of them seen in training).
        public var testImages = 1000
        public var epochs = 3
        public var seed: UInt64 = 0

        public init(trainImages: Int = 4000, testImages: Int = 1000, epochs: Int = 3, seed: UInt64 = 0) {
            self.trainImages = trainImages; self.testImages = testImages; self.epochs = epochs; self.seed = seed
        }
    }

    public struct Result: Codable, Equatable, Sendable {
        public var trainImages: Int
        public var testImages: Int
        public var epochs: Int
        /// Share of the held-out images (real and generated, as many of each) labelled right.
        public var accuracy: Double
        public var realAccuracy: Double
        public var generatedAccuracy: Double
        enum CodingKeys: String, CodingKey {
            case epochs, accuracy
            case trainImages = "train_images", testImages = "test_images"
            case realAccuracy = "real_accuracy", generatedAccuracy = "generated_accuracy"
        }
    }

    /// The judge's network for (C, H, W) images: strided 4x4 convolutions halving the size
    /// (16, 32, then 64 channels while the side stays above 8), a 64-unit layer and 2 logits.
    public static func manifest(shape: [Int]) -> ClassifierManifest {
        var blueprints: [LayerBlueprint] = []
        var side = min(shape[1], shape[2]), channels = 16
        while side > 8 || blueprints.isEmpty {
            blueprints += [.conv2d(out: channels, kernel: 4, stride: 2, padding: 1, bias: true), .activation(.relu)]
            side /= 2
            channels = min(64, channels * 2)
        }
        blueprints += [.flatten, .linear(out: 64, bias: true), .activation(.relu), .linear(out: 2, bias: true)]
        return ClassifierManifest(name: "two-sample judge", inputShape: shape, classes: ["real", "generated"],
                                  featureLayer: blueprints.count - 2, layers: blueprints.map(ClassifierLayer.init))
    }

    /// Trains a judge on the first `trainImages` of each set and scores it on the next
    /// `testImages` of each.
    public static func run(real: ImageDataset, generated: ImageDataset, settings: Settings) throws -> Result {
        let needed = settings.trainImages + settings.testImages
        for (what, set) in [("real images", real), ("generated images", generated)] where set.count < needed {
            throw EvaluationError.tooFewImages(what: "the two-sample judge's \(what)", count: set.count, needed: needed,
                                               hint: "lower --two-sample (it trains on N of each kind and tests on N/4)")
        }
        let shape = [real.channels, real.height, real.width]
        let judge = try Classifier(manifest: manifest(shape: shape), seed: settings.seed)
        func labelled(_ range: Range<Int>) -> ImageDataset {
            ImageDataset(channels: real.channels, height: real.height, width: real.width,
                         pixels: Evaluator.subset(real, Array(range)).pixels + Evaluator.subset(generated, Array(range)).pixels,
                         labels: [Int](repeating: 0, count: range.count) + [Int](repeating: 1, count: range.count),
                         source: "real and generated images \(range.lowerBound)..<\(range.upperBound)")
        }
        let test = labelled(settings.trainImages..<needed)
        _ = try ClassifierTrainer.train(judge, train: labelled(0..<settings.trainImages), test: test,
                                        config: ClassifierTrainingConfig(epochs: settings.epochs, batchSize: 64, learningRate: 1e-3, seed: settings.seed))
        let range = (judge.manifest.inputRange[0], judge.manifest.inputRange[1])
        let p = judge.outputs(test.batch(Array(0..<test.count), range: range)).probabilities    // (2T, 2)
        let t = settings.testImages
        let right = (0..<test.count).map { argmax(p.data, row: $0, width: 2) == test.labels![$0] }
        let realRight = right[..<t].filter { $0 }.count, generatedRight = right[t...].filter { $0 }.count
        return Result(trainImages: settings.trainImages, testImages: t, epochs: settings.epochs,
                      accuracy: Double(realRight + generatedRight) / Double(2 * t),
                      realAccuracy: Double(realRight) / Double(t), generatedAccuracy: Double(generatedRight) / Double(t))
    }
}
