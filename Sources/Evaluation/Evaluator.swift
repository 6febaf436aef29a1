import Foundation
import Tensor
import NN
import ModelIO
import Latent
import Training
import Imaging

/// What to measure and how much of it.
public struct EvaluationSettings: Equatable, Sendable {
    /// Generated images for the classifier metrics (the first ones also feed SWD and the NN
    /// check); without a classifier only as many as those need are made.
    public var samples = 10_000
    /// Latent seed: sample i is `LatentSampler.sample(seed: seed, index: i)`.
    public var seed: UInt64 = 0
    /// Images per set for SWD (the paper uses 16384; fewer keeps it to seconds on a CPU).
    public var swdImages = 2048
    /// Real training images whose features form the real-vs-real floor of the Fréchet distance.
    public var floorImages = 10_000
    /// Samples shown beside their nearest training image.
    public var nearestPairs = 32
    public var batchSize = 250
    /// SWD's parameters (the paper's by default).
    public var swd = SlicedWasserstein()
    /// The real-vs-generated judge (`TwoSampleJudge`), or nil to skip it.
    public var twoSample: TwoSampleJudge.Settings?

    public init() {}
}

/// Everything `forger evaluate` reports; written as JSON with `--json`.
public struct EvaluationReport: Codable, Equatable, Sendable {
    public struct ClassShare: Codable, Equatable, Sendable {
        public var label: String
        public var share: Double
    }
    public struct ClassifierMetrics: Codable, Equatable, Sendable {
        public var classifier: String
        public var classifierTestAccuracy: Double?
        public var classShares: [ClassShare]
        public var meanConfidence: Double
        /// Generated vs `frechetReference` in the classifier's feature space.
        public var frechetDistance: Double
        /// Real training subset vs `frechetReference`: what a perfect generator would score.
        public var frechetFloor: Double?
        public var frechetReference: String
        /// A conditional model whose classes are the classifier's: for each class, the share
        /// of the samples asked for it that the classifier labels as it (1 is perfect).
        public var requestedClassAgreement: [ClassShare]?
        enum CodingKeys: String, CodingKey {
            case classifier
            case requestedClassAgreement = "requested_class_agreement"
            case classifierTestAccuracy = "classifier_test_accuracy", classShares = "class_shares"
            case meanConfidence = "mean_confidence", frechetDistance = "frechet_distance"
            case frechetFloor = "frechet_floor", frechetReference = "frechet_reference"
        }
    }
    public struct NearestMetrics: Codable, Equatable, Sendable {
        public var pairs: Int
        /// Median L2 distance (pixels in [0, 1]) of a sample to its nearest training image.
        public var medianSampleDistance: Double
        public var minimumSampleDistance: Double
        /// The same for real held-out images: a sample much closer than this is a likely copy.
        public var medianRealDistance: Double?
        enum CodingKeys: String, CodingKey {
            case pairs
            case medianSampleDistance = "median_sample_distance", minimumSampleDistance = "minimum_sample_distance"
            case medianRealDistance = "median_real_distance"
        }
    }

    public var model: String
    public var weightsSHA256: String
    public var data: String
    public var testData: String?
    public var samples: Int
    public var seed: UInt64
    public var classifierMetrics: ClassifierMetrics?
    public var swd: SlicedWasserstein.Result
    /// SWD between two disjoint real sets of the same size: the floor.
    public var swdFloor: SlicedWasserstein.Result?
    public var nearest: NearestMetrics
    /// How well a CNN trained to tell real from generated images does on ones it has not seen.
    public var twoSample: TwoSampleJudge.Result?
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case model, data, samples, seed, swd, nearest, seconds
        case weightsSHA256 = "weights_sha256", testData = "test_data", classifierMetrics = "classifier"
        case swdFloor = "swd_floor", twoSample = "two_sample"
    }
}

/// Runs every metric on one generator: samples, classifier metrics (when a classifier fits
/// the data), SWD and the nearest-neighbour check.
public enum Evaluator {
    /// - Parameters:
    ///   - train: the real training images (SWD reals, nearest neighbours, the Fréchet floor).
    ///   - test: held-out real images (the Fréchet reference); nil: a disjoint training subset.
    ///   - log: progress lines for people.
    /// - Returns: the report and the nearest-neighbour grid.
    public static func evaluate(_ model: LoadedModel, train: ImageDataset, test: ImageDataset?, classifier: Classifier?,
                                settings: EvaluationSettings, log: (String) -> Void = { _ in }) throws -> (EvaluationReport, PixelImage) {
        let start = Date()
        let m = model.manifest
        let shape = [m.outputChannels, m.outputHeight, m.outputWidth]
        for (what, set) in [("--data", train)] + (test.map { [("--test-data", $0)] } ?? []) {
            guard [set.channels, set.height, set.width] == shape else {
                throw EvaluationError.shapeMismatch(what: "\(what) \(set.source)", expected: "\(shape[0])x\(shape[1])x\(shape[2]) images (what \(m.name) makes)",
                                                    actual: "\(set.channels)x\(set.height)x\(set.width)", hint: "evaluate against the data the model was trained on")
            }
        }
        guard settings.samples >= max(2, settings.swdImages, settings.nearestPairs) else {
            throw EvaluationError.tooFewImages(what: "--samples", count: settings.samples, needed: max(2, settings.swdImages, settings.nearestPairs),
                                               hint: "ask for at least as many samples as --swd-images and --nn-pairs")
        }
        guard train.count >= settings.swdImages else {
            throw EvaluationError.tooFewImages(what: "--data \(train.source)", count: train.count, needed: settings.swdImages, hint: "lower --swd-images")
        }
        if let classifier, classifier.inputShape != shape {
            throw EvaluationError.shapeMismatch(what: "classifier \(classifier.manifest.name)", expected: "input \(describeShape(shape))",
                                                actual: "input \(describeShape(classifier.inputShape))", hint: "use a classifier trained on this kind of data, or leave it out")
        }

        // Without a classifier only SWD and the nearest-neighbour check need samples.
        let count = classifier == nil ? max(settings.swdImages, settings.nearestPairs) : settings.samples
        log("generating \(count) samples")
        let samples = generate(model, count: count, seed: settings.seed, batchSize: settings.batchSize)
        var rng = RandomStream(seed: settings.seed, purpose: 0x4556_414C, index: 0)
        let order = rng.permutation(train.count)

        var classifierMetrics: EvaluationReport.ClassifierMetrics? = nil
        if let classifier {
            log("classifying samples and real images with \(classifier.manifest.name)")
            classifierMetrics = classify(samples, train: train, trainOrder: order, test: test, classifier: classifier, settings: settings,
                                         requested: requestedClasses(model, count: count, classifier: classifier))
        }

        log("SWD on \(settings.swdImages) samples and \(settings.swdImages) training images")
        let swd = settings.swd
        let reals = subset(train, Array(order.prefix(settings.swdImages)))
        let swdResult = try swd.distance(subset(samples, Array(0..<settings.swdImages)), reals, seed: settings.seed)
        var swdFloor: SlicedWasserstein.Result? = nil
        if let test, test.count >= settings.swdImages {
            swdFloor = try swd.distance(subset(test, Array(0..<settings.swdImages)), reals, seed: settings.seed)
        } else if train.count >= 2 * settings.swdImages {
            swdFloor = try swd.distance(subset(train, Array(order[settings.swdImages..<(2 * settings.swdImages)])), reals, seed: settings.seed)
        }

        log("nearest training images of \(settings.nearestPairs) samples")
        let shown = subset(samples, Array(0..<settings.nearestPairs))
        let matches = try NearestNeighbours.search(shown, in: train)
        var realMedian: Double? = nil
        if let test {
            realMedian = median(try NearestNeighbours.search(subset(test, Array(0..<min(test.count, settings.nearestPairs))), in: train).map(\.distance))
        }
        let grid = try NearestNeighbours.grid(samples: shown, references: train, matches: matches, pairsPerRow: 4, zoom: shape[1] < 48 ? 2 : 1)
        let nearest = EvaluationReport.NearestMetrics(pairs: matches.count, medianSampleDistance: median(matches.map(\.distance)),
                                                      minimumSampleDistance: matches.map(\.distance).min() ?? 0,
                                                      medianRealDistance: realMedian)
        var twoSample: TwoSampleJudge.Result? = nil
        if let judge = settings.twoSample {
            // Fresh samples (seeds after the ones above) and the training images SWD uses least.
            let n = judge.trainImages + judge.testImages
            log("training a real-vs-generated judge on \(judge.trainImages) images of each kind, testing it on \(judge.testImages) more")
            let generated = generate(model, count: n, seed: settings.seed &+ UInt64(count), batchSize: settings.batchSize)
            twoSample = try TwoSampleJudge.run(real: subset(train, Array(order.suffix(n))), generated: generated, settings: judge)
        }
        let report = EvaluationReport(model: m.name, weightsSHA256: model.weightsHash, data: train.source, testData: test?.source,
                                      samples: count, seed: settings.seed, classifierMetrics: classifierMetrics,
                                      swd: swdResult, swdFloor: swdFloor, nearest: nearest, twoSample: twoSample,
                                      seconds: Date().timeIntervalSince(start).rounded())
        return (report, grid)
    }

    /// `count` samples as bytes (N, C, H, W), generated `batchSize` at a time. Conditional
    /// models cycle through their classes.
    public static func generate(_ model: LoadedModel, count: Int, seed: UInt64, batchSize: Int) -> ImageDataset {
        let m = model.manifest
        let generator = model.inferenceGenerator
        let prior = m.distribution
        let plane = m.outputChannels * m.outputHeight * m.outputWidth
        var pixels = [UInt8](repeating: 0, count: count * plane)
        let (lo, hi) = m.outputRange
        let scale = 255 / (hi - lo)
        var start = 0
        while start < count {
            let n = min(batchSize, count - start)
            let z = LatentSampler.batchTensor(seed: seed &+ UInt64(start), count: n, size: m.latentSize, prior: prior)  // (n, Z)
            let labels = generator.conditioning.map { c in (start..<(start + n)).map { $0 % c.classes } }
            let y = generator.forward(z, labels: labels)                                                              // (n, C, H, W)
            for j in 0..<(n * plane) {
                pixels[start * plane + j] = UInt8(max(0, min(255, ((y.data[j] - lo) * scale).rounded())))
            }
            start += n
        }
        return ImageDataset(channels: m.outputChannels, height: m.outputHeight, width: m.outputWidth, pixels: pixels,
                            source: "samples of \(m.name) (seed \(seed))")
    }

    /// The class each sample was generated for (`generate` cycles through them), when the
    /// model is conditional on as many classes as the classifier tells apart; else nil.
    static func requestedClasses(_ model: LoadedModel, count: Int, classifier: Classifier) -> [Int]? {
        guard let classes = model.manifest.conditioning?.classes, classes == classifier.manifest.classes.count else { return nil }
        return (0..<count).map { $0 % classes }
    }

    static func classify(_ samples: ImageDataset, train: ImageDataset, trainOrder: [Int], test: ImageDataset?,
                         classifier: Classifier, settings: EvaluationSettings, requested: [Int]? = nil) -> EvaluationReport.ClassifierMetrics {
        let range = (classifier.manifest.inputRange[0], classifier.manifest.inputRange[1])
        func run(_ set: ImageDataset, _ indices: [Int]) -> (features: Tensor, probabilities: Tensor) {
            // In slices, so only one slice of floats is alive at a time.
            var f: [Tensor] = [], p: [Tensor] = []
            var s = 0
            while s < indices.count {
                let e = min(indices.count, s + 2000)
                let o = classifier.outputs(set.batch(Array(indices[s..<e]), range: range), batchSize: settings.batchSize)
                f.append(o.features); p.append(o.probabilities)
                s = e
            }
            return (Tensor.concatenateRows(f), Tensor.concatenateRows(p))
        }
        let generated = run(samples, Array(0..<samples.count))
        let k = classifier.manifest.classes.count
        var counts = [Int](repeating: 0, count: k), asked = [Int](repeating: 0, count: k), agreed = [Int](repeating: 0, count: k)
        var confidence = 0.0
        for i in 0..<samples.count {
            let top = argmax(generated.probabilities.data, row: i, width: k)
            counts[top] += 1
            confidence += Double(generated.probabilities.data[i * k + top])
            if let requested {
                asked[requested[i]] += 1
                if requested[i] == top { agreed[top] += 1 }
            }
        }
        let n = Double(samples.count)
        let floorCount = min(settings.floorImages, train.count)
        let reference: FeatureStatistics, floor: Double?, referenceName: String
        if let test {
            reference = FeatureStatistics(features: run(test, Array(0..<test.count)).features)
            floor = FrechetDistance.distance(FeatureStatistics(features: run(train, Array(trainOrder.prefix(floorCount))).features), reference)
            referenceName = "\(test.count) test images"
        } else {
            // Without held-out images: two disjoint training subsets (the second only when there is room).
            let half = min(floorCount, train.count / 2)
            reference = FeatureStatistics(features: run(train, Array(trainOrder.prefix(half))).features)
            floor = half >= 2 ? FrechetDistance.distance(FeatureStatistics(features: run(train, Array(trainOrder[half..<(2 * half)])).features), reference) : nil
            referenceName = "\(half) training images"
        }
        return .init(classifier: classifier.manifest.name, classifierTestAccuracy: classifier.manifest.training?.testAccuracy,
                     classShares: zip(classifier.manifest.classes, counts).map { .init(label: $0, share: Double($1) / n) },
                     meanConfidence: confidence / n,
                     frechetDistance: FrechetDistance.distance(FeatureStatistics(features: generated.features), reference),
                     frechetFloor: floor, frechetReference: referenceName,
                     requestedClassAgreement: requested == nil ? nil : zip(classifier.manifest.classes, zip(agreed, asked)).map {
                         .init(label: $0, share: Double($1.0) / Double(max(1, $1.1)))
                     })
    }

    /// Images `indices` of a set as a new set (labels kept).
    public static func subset(_ set: ImageDataset, _ indices: [Int]) -> ImageDataset {
        let plane = set.channels * set.height * set.width
        var pixels = [UInt8](); pixels.reserveCapacity(indices.count * plane)
        for i in indices { pixels += set.pixels[(i * plane)..<((i + 1) * plane)] }
        return ImageDataset(channels: set.channels, height: set.height, width: set.width, pixels: pixels,
                            labels: set.labels.map { l in indices.map { l[$0] } }, source: set.source)
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
