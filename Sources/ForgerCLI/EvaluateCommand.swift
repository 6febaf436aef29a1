import ArgumentParser
import Foundation
import Safety
import Evaluation
import Training
import Imaging
import ModelIO

/// `forger evaluate`: numbers for model cards, and the classifier those numbers need.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a generator against real data, or train the digits classifier that measures it.",
        subcommands: [EvaluateModel.self, TrainClassifier.self], defaultSubcommand: EvaluateModel.self)
}

struct EvaluateModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Report how good a generator is: class shares, confidence, Fréchet distance, SWD, nearest neighbours.",
        discussion: """
        Digit-like data (the classifier's input size): the classifier labels every sample; the report \
        gives each class's share, the mean top-class confidence and the Fréchet distance between \
        samples and real test images in the classifier's feature space, next to the floor (real \
        training images vs the same test images). Any data: the multi-scale sliced Wasserstein \
        distance (x1e3, Karras et al. 2018) per pyramid level, with real-vs-real as its floor, and \
        the nearest training image (L2) of the first samples, drawn side by side with --nn-grid.
        Example: forger evaluate Models/mnist --data train-images-idx3-ubyte.gz \
        --test-data t10k-images-idx3-ubyte.gz --nn-grid nn.png --json report.json
        """)

    @OptionGroup var modelArgument: ModelArgument
    @Option(help: "The real training images (IDX, .npy or a folder of PNGs).")
    var data: String
    @Option(help: "IDX labels of --data (not needed for the metrics; checked when given).")
    var labels: String?
    @Option(help: "Held-out real images for the Fréchet distance (e.g. t10k-images-idx3-ubyte.gz); without them a disjoint training subset serves.")
    var testData: String?
    @Option(help: "Resize real images to N x N (to match a model trained on resized data).")
    var imageSize: Int?
    @Option(help: "Classifier directory (default: Models/digits-classifier when the data is 1x28x28).")
    var classifier: String?
    @Flag(help: "Skip the classifier metrics.")
    var noClassifier = false
    @Option(name: [.customShort("n"), .long], help: "Samples to generate and classify, 2 to 100000.")
    var samples = 10_000
    @Option(help: "Images per set for SWD (the paper: 16384).")
    var swdImages = 2048
    @Option(help: "Samples shown beside their nearest training image.")
    var nnPairs = 32
    @Option(help: "Also train a small CNN to tell real images from samples on N of each (then tested on N/4 unseen ones of each): its held-out accuracy, 50% when it cannot tell them apart. 0: skip.")
    var twoSample = 0
    @Option(name: .shortAndLong, help: "Latent seed of the samples; also seeds SWD.")
    var seed: UInt64 = 0
    @Option(help: "Write the sample | nearest training image grid to this PNG.")
    var nnGrid: String?
    @Option(help: "Write the report as JSON to this file.")
    var json: String?
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        try Limits.check(samples, 2...100_000, "--samples")
        try outputOptions.check([nnGrid.map { ($0, "--nn-grid picture") }, json.map { ($0, "--json report") }].compactMap { $0 })
        guard swdImages >= 1, swdImages <= samples else { throw ValidationError("--swd-images must be between 1 and --samples") }
        guard nnPairs >= 1, nnPairs <= samples else { throw ValidationError("--nn-pairs must be between 1 and --samples") }
        if let imageSize, imageSize < 4 { throw ValidationError("--image-size must be at least 4") }
        if twoSample != 0 { try Limits.check(twoSample, 40...50_000, "--two-sample") }
        if noClassifier && classifier != nil { throw ValidationError("give --classifier or --no-classifier, not both") }
    }

    func run() throws {
        let model = try modelArgument.load()
        let train = try loadEvaluationData(data, labels: labels, option: "--data", imageSize: imageSize)
        let test = try testData.map { try loadEvaluationData($0, labels: nil, option: "--test-data", imageSize: imageSize) }
        let m = model.manifest
        var chosen: Classifier? = nil
        if let classifier {
            do { chosen = try Classifier.load(URL(fileURLWithPath: classifier)) } catch { throw UserError("--classifier: \(error)") }
        } else if !noClassifier, [m.outputChannels, m.outputHeight, m.outputWidth] == [1, 28, 28],
                  let url = ModelCatalog.searchFolders().map({ $0.appendingPathComponent("digits-classifier") })
                      .first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent(Classifier.manifestFile).path) }) {
            chosen = try? Classifier.load(url)
            if chosen == nil { log("note: \(url.path) is not a readable classifier; skipping the classifier metrics") }
        } else if !noClassifier, !outputOptions.quiet {
            log("note: no classifier for \(m.outputChannels)x\(m.outputHeight)x\(m.outputWidth) images; reporting SWD and nearest neighbours only (pass --classifier for others)")
        }
        var settings = EvaluationSettings()
        settings.samples = samples; settings.seed = seed; settings.swdImages = swdImages; settings.nearestPairs = nnPairs
        if twoSample > 0 { settings.twoSample = TwoSampleJudge.Settings(trainImages: twoSample, testImages: twoSample / 4, seed: seed) }
        let report: EvaluationReport, grid: PixelImage
        do {
            (report, grid) = try Evaluator.evaluate(model, train: train, test: test, classifier: chosen, settings: settings) { line in
                if !outputOptions.quiet { log(line) }
            }
        } catch let e as EvaluationError { throw UserError("\(e)") }
        print(EvaluationTable.render(report))
        if let nnGrid {
            do { try PNG.write(grid, to: URL(fileURLWithPath: nnGrid)) } catch { throw UserError("--nn-grid \(nnGrid): \(error)") }
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do { try AtomicFile.write(try encoder.encode(report), to: URL(fileURLWithPath: json)) } catch {
                throw UserError("--json \(json): cannot write (\(error.localizedDescription)); check the folder exists")
            }
        }
    }

}

/// Loads real images the way `forger train` does; errors name the option.
func loadEvaluationData(_ path: String, labels: String?, option: String, imageSize: Int? = nil) throws -> ImageDataset {
    do { return try DatasetLoader.load(path, labels: labels, size: imageSize) } catch {
        throw UserError("\(option): \(error)")
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
        try Limits.check(epochs, 1...1000, "--epochs")
        try Limits.check(batchSize, 1...Limits.maximumBatchSize, "--batch-size")
        let existing = URL(fileURLWithPath: output).appendingPathComponent(Classifier.manifestFile).path
        if FileManager.default.fileExists(atPath: existing) && !outputOptions.force {
            throw ValidationError("-o \(output) already holds a classifier; add --force to replace it, or choose another folder")
        }
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

}
