import Foundation
import Tensor
import NN
import Training

/// Settings of a classifier training run. Equal settings and data give equal weights on one machine.
public struct ClassifierTrainingConfig: Equatable, Sendable {
    public var epochs = 4
    public var batchSize = 64
    /// Adam (beta1 0.9, beta2 0.999) learning rate; halved after every epoch from the second on.
    public var learningRate: Float = 1e-3
    public var seed: UInt64 = 0

    public init(epochs: Int = 4, batchSize: Int = 64, learningRate: Float = 1e-3, seed: UInt64 = 0) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate; self.seed = seed
    }

    /// The learning rate in `epoch` (0-based): full for the first epoch, then halved each epoch.
    public func rate(epoch: Int) -> Float { learningRate * Foundation.pow(0.5, Float(max(0, epoch - 1))) }
}

/// What a classifier training run reports after each epoch.
public struct ClassifierEpoch: Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var testAccuracy: Double
    public var seconds: Double
}

/// Trains a classifier with softmax cross-entropy on labelled images; `progress` hears about
/// every epoch (and may be a no-op). Images are fed in the classifier's input range.
public enum ClassifierTrainer {
    public static func train(_ classifier: Classifier, train: ImageDataset, test: ImageDataset,
                             config: ClassifierTrainingConfig,
                             progress: (ClassifierEpoch) -> Void = { _ in }) throws -> ClassifierEpoch {
        for (what, set) in [("training images", train), ("test images", test)] {
            guard [set.channels, set.height, set.width] == classifier.inputShape else {
                throw EvaluationError.shapeMismatch(what: what, expected: describeShape(classifier.inputShape),
                                                    actual: describeShape([set.channels, set.height, set.width]),
                                                    hint: "give images of the classifier's size")
            }
            guard let labels = set.labels, labels.count == set.count else {
                throw EvaluationError.tooFewImages(what: "\(what) \(set.source) have no labels", count: set.count, needed: set.count,
                                                   hint: "pass the matching IDX label file")
            }
            guard labels.allSatisfy({ $0 >= 0 && $0 < classifier.manifest.classes.count }) else {
                throw EvaluationError.shapeMismatch(what: "labels of \(set.source)", expected: "classes 0..<\(classifier.manifest.classes.count)",
                                                    actual: "\(labels.min()!)...\(labels.max()!)", hint: "use labels that belong to these classes")
            }
        }
        let range = (classifier.manifest.inputRange[0], classifier.manifest.inputRange[1])
        let optimizer = Adam(learningRate: config.learningRate, beta1: 0.9, beta2: 0.999)
        let start = Date()
        let b = config.batchSize, steps = max(1, train.count / b)
        var last = ClassifierEpoch(epoch: 0, trainLoss: .nan, testAccuracy: 0, seconds: 0)
        for epoch in 0..<config.epochs {
            var order = RandomStream(seed: config.seed, purpose: 3, index: UInt64(epoch))
            let permutation = order.permutation(train.count)
            var rng = RandomStream(seed: config.seed, purpose: 4, index: UInt64(epoch))
            var lossSum: Double = 0
            let lr = config.rate(epoch: epoch)
            for step in 0..<steps {
                let indices = Array(permutation[(step * b)..<((step + 1) * b)])
                let x = train.batch(indices, range: range)                       // (B, C, H, W)
                classifier.network.zeroGradients()
                let logits = classifier.trainingLogits(x, rng: &rng)             // (B, K)
                let (loss, grad) = SoftmaxCrossEntropy.loss(logits: logits, labels: indices.map { train.labels![$0] })
                classifier.network.backward(grad)
                optimizer.step(classifier.network.parameters, learningRate: lr)
                lossSum += Double(loss)
            }
            let acc = testAccuracy(classifier, test)
            last = ClassifierEpoch(epoch: epoch + 1, trainLoss: lossSum / Double(steps), testAccuracy: acc,
                                   seconds: Date().timeIntervalSince(start))
            progress(last)
        }
        return last
    }

    /// Top-1 accuracy on a labelled set.
    public static func testAccuracy(_ classifier: Classifier, _ set: ImageDataset) -> Double {
        let range = (classifier.manifest.inputRange[0], classifier.manifest.inputRange[1])
        let (_, p) = classifier.outputs(set.batch(Array(0..<set.count), range: range))
        return accuracy(probabilities: p, labels: set.labels ?? [])
    }
}
