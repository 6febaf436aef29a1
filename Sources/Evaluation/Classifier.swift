import Foundation
import Tensor
import NN
import ModelIO
import Training

/// One layer of a classifier as `classifier.json` writes it, in the layer syntax of
/// `forger train --architecture`: `{"type": "conv2d", "out": 16, "kernel": 5, "stride": 2, "padding": 2}`.
public struct ClassifierLayer: Codable, Equatable, Sendable {
    public var type: String
    public var out: Int?
    public var kernel: Int?
    public var stride: Int?
    public var padding: Int?
    public var bias: Bool?
    public var rate: Float?

    enum CodingKeys: String, CodingKey { case type, out, kernel, stride, padding, bias, rate }

    public init(_ blueprint: LayerBlueprint) {
        switch blueprint {
        case .linear(let out, let bias): self.init(type: "linear", out: out, bias: bias)
        case .conv2d(let out, let k, let s, let p, let bias):
            self.init(type: "conv2d", out: out, kernel: k, stride: s, padding: p, bias: bias)
        case .flatten: self.init(type: "flatten")
        case .activation(.relu): self.init(type: "relu")
        case .dropout(let rate): self.init(type: "dropout", rate: rate)
        default: preconditionFailure("classifiers use linear, conv2d, flatten, relu and dropout layers only, not \(blueprint)")
        }
    }

    init(type: String, out: Int? = nil, kernel: Int? = nil, stride: Int? = nil, padding: Int? = nil,
         bias: Bool? = nil, rate: Float? = nil) {
        self.type = type; self.out = out; self.kernel = kernel; self.stride = stride
        self.padding = padding; self.bias = bias; self.rate = rate
    }

    /// The blueprint, or why this entry is not one (`at` names the layer for the message).
    func blueprint(at: String) throws -> LayerBlueprint {
        func need(_ v: Int?, _ key: String) throws -> Int {
            guard let v, v > 0 else { throw LayerEntryError(reason: "\(at): '\(key)' must be a positive integer") }
            return v
        }
        switch type {
        case "linear": return .linear(out: try need(out, "out"), bias: bias ?? true)
        case "conv2d":
            return .conv2d(out: try need(out, "out"), kernel: try need(kernel, "kernel"), stride: stride ?? 1,
                           padding: padding ?? 0, bias: bias ?? true)
        case "flatten": return .flatten
        case "relu": return .activation(.relu)
        case "dropout": return .dropout(rate: rate ?? 0.5)
        default: throw LayerEntryError(reason: "\(at): unknown type \"\(type)\" (classifiers use linear, conv2d, flatten, relu, dropout)")
        }
    }
}

/// Why one layer entry is unusable; turned into `EvaluationError.badClassifier` with the path.
struct LayerEntryError: Error { let reason: String }

/// How a classifier was trained, recorded in its manifest so the model card can be checked.
public struct ClassifierTrainingRecord: Codable, Equatable, Sendable {
    public var command: String
    public var trainImages: String
    public var testImages: String
    public var trainCount: Int
    public var testCount: Int
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var seed: UInt64
    public var seconds: Double
    public var testAccuracy: Double
    public var finalTrainLoss: Double

    public init(command: String, trainImages: String, testImages: String, trainCount: Int, testCount: Int,
                epochs: Int, batchSize: Int, learningRate: Float, seed: UInt64, seconds: Double,
                testAccuracy: Double, finalTrainLoss: Double) {
        self.command = command; self.trainImages = trainImages; self.testImages = testImages
        self.trainCount = trainCount; self.testCount = testCount; self.epochs = epochs; self.batchSize = batchSize
        self.learningRate = learningRate; self.seed = seed; self.seconds = seconds
        self.testAccuracy = testAccuracy; self.finalTrainLoss = finalTrainLoss
    }

    enum CodingKeys: String, CodingKey {
        case command, seed, epochs, seconds
        case trainImages = "train_images", testImages = "test_images", trainCount = "train_count"
        case testCount = "test_count", batchSize = "batch_size", learningRate = "learning_rate"
        case testAccuracy = "test_accuracy", finalTrainLoss = "final_train_loss"
    }
}

/// `classifier.json`: what the network is and how it was trained. Weights sit beside it in
/// `weights.safetensors`, named "<layer index>.weight" / "<layer index>.bias".
public struct ClassifierManifest: Codable, Equatable, Sendable {
    public static let formatName = "forger-classifier"
    public var format = ClassifierManifest.formatName
    public var version = 1
    public var name: String
    /// Per-image input shape (C, H, W).
    public var inputShape: [Int]
    /// Pixel values the classifier expects; images are mapped into this range before it sees them.
    public var inputRange: [Float]
    public var classes: [String]
    /// Index of the layer whose output is the feature vector for Fréchet distances.
    public var featureLayer: Int
    public var layers: [ClassifierLayer]
    public var training: ClassifierTrainingRecord?

    enum CodingKeys: String, CodingKey {
        case format, version, name, classes, layers, training
        case inputShape = "input_shape", inputRange = "input_range", featureLayer = "feature_layer"
    }

    public init(name: String, inputShape: [Int], classes: [String], featureLayer: Int, layers: [ClassifierLayer]) {
        self.name = name; self.inputShape = inputShape; self.inputRange = [0, 1]
        self.classes = classes; self.featureLayer = featureLayer; self.layers = layers
    }

    /// The digits classifier shipped in Models/digits-classifier: two strided 5x5 convolutions,
    /// a 64-unit hidden layer (the feature space) and 10 logits. About 114k parameters.
    public static func digits(channels: Int = 1, size: Int = 28, classes: [String] = (0..<10).map(String.init)) -> ClassifierManifest {
        let blueprints: [LayerBlueprint] = [
            .conv2d(out: 16, kernel: 5, stride: 2, padding: 2, bias: true), .activation(.relu),  // (N, 16, 14, 14)
            .conv2d(out: 32, kernel: 5, stride: 2, padding: 2, bias: true), .activation(.relu),  // (N, 32, 7, 7)
            .flatten,                                                                            // (N, 1568)
            .linear(out: 64, bias: true), .activation(.relu),                                    // (N, 64) features
            .linear(out: classes.count, bias: true),                                             // (N, 10) logits
        ]
        return ClassifierManifest(name: "digits-classifier", inputShape: [channels, size, size], classes: classes,
                                  featureLayer: 6, layers: blueprints.map(ClassifierLayer.init))
    }
}

/// A small image classifier: logits for classes and a feature vector from an inner layer.
public final class Classifier {
    public static let manifestFile = "classifier.json"
    public static let weightsFile = "weights.safetensors"

    public var manifest: ClassifierManifest
    public let network: Network

    /// A freshly initialised classifier (PyTorch's default fan-in uniform initialisation).
    public init(manifest: ClassifierManifest, seed: UInt64, path: String = "(new classifier)") throws {
        let blueprints = try Self.blueprints(manifest, path: path)
        var rng = RandomStream(seed: seed)
        do {
            network = try Network(inputShape: manifest.inputShape, blueprints: blueprints, initialisation: .fanInUniform, rng: &rng)
        } catch {
            throw EvaluationError.badClassifier(path: path, reason: "\(error)")
        }
        guard network.outputShape == [manifest.classes.count] else {
            throw EvaluationError.badClassifier(path: path, reason: "the last layer gives \(describeShape(network.outputShape)) but there are \(manifest.classes.count) classes; end with a linear layer of that many outputs")
        }
        guard manifest.featureLayer >= 0, manifest.featureLayer < network.layers.count - 1,
              network.shapes[manifest.featureLayer].count == 1 else {
            throw EvaluationError.badClassifier(path: path, reason: "feature_layer \(manifest.featureLayer) must index a layer before the last whose output is a flat vector")
        }
        self.manifest = manifest
    }

    static func blueprints(_ m: ClassifierManifest, path: String) throws -> [LayerBlueprint] {
        guard m.format == ClassifierManifest.formatName else {
            throw EvaluationError.badClassifier(path: path, reason: "format is \"\(m.format)\", not \"\(ClassifierManifest.formatName)\"; is this a generator model directory?")
        }
        guard m.inputShape.count == 3, m.inputShape.allSatisfy({ $0 > 0 }) else {
            throw EvaluationError.badClassifier(path: path, reason: "input_shape must be [C, H, W], got \(m.inputShape)")
        }
        guard m.inputRange.count == 2, m.inputRange[0] < m.inputRange[1] else {
            throw EvaluationError.badClassifier(path: path, reason: "input_range must be [low, high] with low < high, got \(m.inputRange)")
        }
        guard m.classes.count >= 2 else { throw EvaluationError.badClassifier(path: path, reason: "at least 2 classes needed") }
        do {
            return try m.layers.enumerated().map { i, l in try l.blueprint(at: "layer \(i)") }
        } catch let e as LayerEntryError {
            throw EvaluationError.badClassifier(path: path, reason: e.reason)
        }
    }

    public var featureSize: Int { network.shapes[manifest.featureLayer][0] }
    public var inputShape: [Int] { manifest.inputShape }

    // MARK: Files

    /// Reads `classifier.json` and `weights.safetensors` from a directory.
    public static func load(_ directory: URL) throws -> Classifier {
        let manifestURL = directory.appendingPathComponent(manifestFile)
        guard let data = try? Data(contentsOf: manifestURL) else {
            throw EvaluationError.badClassifier(path: directory.path, reason: "no readable \(manifestFile); train one with 'forger evaluate train-classifier' or pass --classifier with the shipped Models/digits-classifier")
        }
        let manifest: ClassifierManifest
        do { manifest = try JSONDecoder().decode(ClassifierManifest.self, from: data) } catch {
            throw EvaluationError.badClassifier(path: manifestURL.path, reason: "not a classifier manifest (\(error))")
        }
        let classifier = try Classifier(manifest: manifest, seed: 0, path: manifestURL.path)
        let weightsURL = directory.appendingPathComponent(weightsFile)
        let records: [(name: String, record: TensorRecord)]
        do { records = try SafeTensors.read(weightsURL) } catch {
            throw EvaluationError.badClassifier(path: weightsURL.path, reason: "\(error)")
        }
        let byName = Dictionary(records.map { ($0.name, $0.record) }, uniquingKeysWith: { a, _ in a })
        for (name, p) in classifier.network.namedParameters {
            guard let r = byName[name] else {
                throw EvaluationError.badClassifier(path: weightsURL.path, reason: "tensor \(name) is missing; the weights belong to another classifier.json")
            }
            guard r.shape == p.value.shape else {
                throw EvaluationError.badClassifier(path: weightsURL.path, reason: "tensor \(name) has shape \(r.shape), layer needs \(p.value.shape)")
            }
            p.value = r.tensor
        }
        return classifier
    }

    /// Writes the directory (created if needed): classifier.json and weights.safetensors.
    public func save(to directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(manifest).write(to: directory.appendingPathComponent(Self.manifestFile), options: .atomic)
            let tensors = network.namedParameters.map { ($0.name, TensorRecord($0.parameter.value)) }
            try SafeTensors.encode(tensors, metadata: ["format": ClassifierManifest.formatName])
                .write(to: directory.appendingPathComponent(Self.weightsFile), options: .atomic)
        } catch let e as EvaluationError { throw e } catch {
            throw EvaluationError.cannotWrite(path: directory.path, reason: error.localizedDescription)
        }
    }

    // MARK: Inference

    /// Features (N, F) and class probabilities (N, K) of images (N, C, H, W) already in the
    /// classifier's input range, computed `batchSize` images at a time.
    public func outputs(_ images: Tensor, batchSize: Int = 500) -> (features: Tensor, probabilities: Tensor) {
        precondition(Array(images.shape.dropFirst()) == inputShape, "images \(images.shape) vs classifier input \(inputShape)")
        var features: [Tensor] = [], probabilities: [Tensor] = []
        var start = 0
        let n = images.shape[0]
        var rng = RandomStream(seed: 0)
        while start < n {
            let end = min(n, start + batchSize)
            var y = images.rows(start..<end)
            for (i, layer) in network.layers.enumerated() {
                y = layer.forward(y, training: false, rng: &rng)
                if i == manifest.featureLayer { features.append(y) }       // (B, F)
            }
            probabilities.append(SoftmaxCrossEntropy.softmax(y))            // (B, K)
            start = end
        }
        return (Tensor.concatenateRows(features), Tensor.concatenateRows(probabilities))
    }

    /// Logits (N, K) for a training batch; keeps the caches backward needs.
    func trainingLogits(_ images: Tensor, rng: inout RandomStream) -> Tensor {
        network.forward(images, training: true, rng: &rng)
    }
}

/// The share of `labels` the classifier gets right, from its probabilities (N, K).
public func accuracy(probabilities: Tensor, labels: [Int]) -> Double {
    let k = probabilities.shape[1]
    var right = 0
    for (i, label) in labels.enumerated() where argmax(probabilities.data, row: i, width: k) == label { right += 1 }
    return Double(right) / Double(max(1, labels.count))
}

@inline(__always) func argmax(_ values: [Float], row: Int, width k: Int) -> Int {
    var best = 0
    for j in 1..<k where values[row * k + j] > values[row * k + best] { best = j }
    return best
}
