import ArgumentParser
import Foundation
import Evaluation
import Training

/// `forger evaluate`: numbers for model cards, and the classifier those numbers need.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a generator against real data, or train the digits classifier that measures it.",
        subcommands: [TrainClassifier.self])
}

/// Loads an IDX file (with labels) or another dataset format the way `forger train` does.
func loadEvaluationData(_ path: String, labels: String?, option: String) throws -> ImageDataset {
    let url = URL(fileURLWithPath: path)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
        throw UserError("\(option) \(path): no such file or folder; give an IDX file, a .npy file or a folder of PNGs")
    }
    do {
        if isDir.boolValue { return try DatasetLoader.folder(url) }
        if url.pathExtension.lowercased() == "npy" { return try DatasetLoader.npy(url) }
        return try DatasetLoader.idx(images: url, labels: labels.map { URL(fileURLWithPath: $0) })
    } catch let e as DatasetError {
        throw UserError("\(option): \(e)")
    }
}

struct TrainClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-classifier",
        abstract: "Train the small CNN whose labels and features 'forger evaluate' reports.",
        discussion: """
        Example (the shipped Models/digits-classifier): forger evaluate train-classifier \
        --data train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \
        --test-data t10k-images-idx3-ubyte.gz --test-labels t10k-labels-idx1-ubyte.gz -o Models/digits-classifier
        """)

    @Option(help: "Training images (IDX, gzipped or not).")
    var data: String
    @Option(help: "IDX labels of the training images.")
    var labels: String
    @Option(help: "Test images (IDX), for the accuracy recorded in the manifest.")
    var testData: String
    @Option(help: "IDX labels of the test images.")
    var testLabels: String
    @Option(help: "Epochs over the training images.")
    var epochs = 4
    @Option(help: "Minibatch size.")
    var batchSize = 64
    @Option(help: "Adam learning rate (halved every epoch after the first).")
    var lr: Float = 1e-3
    @Option(name: .shortAndLong, help: "Seed of the initial weights and the batch order.")
    var seed: UInt64 = 0
    @Option(name: .shortAndLong, help: "Classifier directory to write (classifier.json + weights.safetensors).")
    var output: String
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard lr > 0 else { throw ValidationError("--lr must be positive") }
    }

    func run() throws {
        let train = try loadEvaluationData(data, labels: labels, option: "--data")
        let test = try loadEvaluationData(testData, labels: testLabels, option: "--test-data")
        var manifest = ClassifierManifest.digits(channels: train.channels, size: train.height)
        manifest.name = URL(fileURLWithPath: output).lastPathComponent
        let config = ClassifierTrainingConfig(epochs: epochs, batchSize: batchSize, learningRate: lr, seed: seed)
        let classifier: Classifier
        let last: ClassifierEpoch
        do {
            guard train.height == train.width else {
                throw EvaluationError.shapeMismatch(what: "--data \(data)", expected: "square images", actual: "\(train.width)x\(train.height)", hint: "the digits classifier takes square images")
            }
            classifier = try Classifier(manifest: manifest, seed: seed)
            if !outputOptions.quiet {
                log("training \(manifest.name): \(classifier.network.parameterCount) parameters on \(train.count) images, testing on \(test.count)")
            }
            last = try ClassifierTrainer.train(classifier, train: train, test: test, config: config) { e in
                if !outputOptions.quiet {
                    log(String(format: "epoch %d: train loss %.4f, test accuracy %.2f%%, %.0f s", e.epoch, e.trainLoss, 100 * e.testAccuracy, e.seconds))
                }
            }
        } catch let e as EvaluationError { throw UserError("\(e)") }
        classifier.manifest.training = ClassifierTrainingRecord(
            command: "forger " + CommandLineRecord.arguments.joined(separator: " "),
            trainImages: URL(fileURLWithPath: data).lastPathComponent, testImages: URL(fileURLWithPath: testData).lastPathComponent,
            trainCount: train.count, testCount: test.count, epochs: epochs, batchSize: batchSize, learningRate: lr, seed: seed,
            seconds: last.seconds.rounded(), testAccuracy: last.testAccuracy, finalTrainLoss: last.trainLoss)
        do { try classifier.save(to: URL(fileURLWithPath: output)) } catch { throw UserError("\(error)") }
        if !outputOptions.quiet { log(String(format: "test accuracy %.2f%%; classifier in %@", 100 * last.testAccuracy, output)) }
    }

    func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
}
