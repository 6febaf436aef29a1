import ArgumentParser
import Foundation
import Safety
import Imaging
import Render
import ModelIO
import NN
import Tensor
import Training

extension GANArchitecture.Preset: ExpressibleByArgument {}
extension DatasetFormat: ExpressibleByArgument {}

extension GANLoss: ExpressibleByArgument {}
extension Initialisation: ExpressibleByArgument {}
extension Conditioning.Join: ExpressibleByArgument {}

enum OptimizerKind: String, ExpressibleByArgument, CaseIterable { case adam, sgd }

/// Set on Ctrl-C (from the interrupt queue); the training loop checkpoints and stops at the next step.
nonisolated(unsafe) var trainingInterrupted: Int32 = 0

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a GAN and write the generator as a Forger model directory.",
        discussion: """
        Data: IDX image files (gzipped or not; MNIST, Fashion-MNIST), a folder of PNGs (recursive; \
        first-level subfolders become class labels), or a float .npy array (N, [C,] H, W). \
        Output: <output>/model.json + weights.safetensors, checkpoint.safetensors, progress/ sample \
        grids from a fixed noise batch, progress.gif and samples.png; the model.json 'training' \
        section records the command, data, steps, wall time, machine and final losses. \
        Ctrl-C saves a checkpoint; --resume continues exactly where it stopped. \
        --conditional trains a class-conditional GAN from labelled data (--labels, or class \
        subfolders): G joins a learned class embedding to its latent (--class-join), D sees the \
        class as extra input channels; sample it with --class and walk it with --classes.
        """)

    @Option(help: "Architecture preset: post-mnist (the 2016 post's 28x28 generator), dcgan (28, 32, 64 px), or dcgan-upsample (32, 64 px: G grows by nearest upsampling + 3x3 conv).")
    var preset: GANArchitecture.Preset = .postMNIST
    @Option(help: "Custom architecture JSON (generator and discriminator layers); overrides --preset.")
    var architecture: String?
    @Option(help: "Channel width (post-mnist: first conv, default 16; dcgan, dcgan-upsample: ngf = ndf, default 64).")
    var width: Int?
    @Option(help: "Latent size (default: post-mnist 16, dcgan and dcgan-upsample 100).")
    var latentSize: Int?

    @Option(help: "Training images: an IDX file, a folder of PNGs, or a .npy array.")
    var data: String
    @Option(help: "IDX label file, one class per image, for IDX or .npy images (folders: class subfolders).")
    var labels: String?
    @Flag(help: "Train a class-conditional GAN on the labels.")
    var conditional = false
    @Option(help: "Conditional: how G's class embedding joins the latent: concat-latent-first, concat-label-first or multiply.")
    var classJoin: Conditioning.Join?
    @Option(help: "Conditional: G's class embedding size (default: the class count; multiply: the latent size).")
    var embeddingSize: Int?
    @Option(help: "Data format (auto: by extension and contents).")
    var dataFormat: DatasetFormat = .auto
    @Option(help: "Resize every image to N x N (dcgan: 28, 32 or 64).")
    var imageSize: Int?
    @Option(help: "Convert images to 1 (grey) or 3 (colour) channels.")
    var channels: Int?
    @Flag(help: "Flip real images left-right at random.")
    var flip = false

    @Option(help: "Generator steps to train to (total, counting resumed steps).")
    var steps: Int?
    @Option(help: "Epochs of real data to train (alternative to --steps).")
    var epochs: Double?
    @Option(help: "Minibatch size.")
    var batchSize = 64
    @Option(name: .customShort("k"), help: "Discriminator steps per generator step.")
    var discriminatorSteps = 1
    @Option(help: "Loss: \(GANLoss.allCases.map(\.rawValue).joined(separator: ", ")).")
    var loss: GANLoss = .nonSaturating
    @Option(help: "Optimizer: adam or sgd (Nesterov momentum).")
    var optimizer: OptimizerKind = .adam
    @Option(help: "Generator learning rate.")
    var lr: Float = 2e-4
    @Option(help: "Discriminator learning rate (default: --lr).")
    var dLr: Float?
    @Option(help: "Adam beta1.")
    var beta1: Float = 0.5
    @Option(help: "SGD momentum.")
    var momentum: Float = 0.9
    @Option(help: "Multiply learning rates by this every --lr-decay-every epochs.")
    var lrDecay: Float = 1
    @Option(help: "Epochs between learning-rate decays.")
    var lrDecayEvery = 1
    @Option(help: "Keep an exponential moving average of G's weights with this decay (such as 0.999; the first steps use less) and export it, and draw progress grids with it, instead of the last step's weights.")
    var ema: Float?
    @Option(help: "Add a mode-seeking term of this weight (such as 1) to G's loss: pairs of latents of one class that draw the same image are penalised, against a conditional G's collapse to one image per class.")
    var modeSeeking: Float?
    @Option(help: "Weight initialisation: \(Initialisation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var initialisation: Initialisation = .dcgan
    @Option(name: .shortAndLong, help: "Seed of every random choice (weights, order, noise, dropout).")
    var seed: UInt64 = 0

    @Option(name: .shortAndLong, help: "Model directory to write.")
    var output: String
    @Option(help: "Model name (default: the output folder's name).")
    var name: String?
    @Option(help: "Write a sample grid every N steps (0: never).")
    var sampleEvery = 200
    @Option(help: "Checkpoint every N steps (0: only at the end and on Ctrl-C).")
    var checkpointEvery = 500
    @Option(help: "Stop (checkpoint and export, as Ctrl-C does) after this many minutes of wall time.")
    var timeLimit: Double?
    @Flag(help: "Continue from <output>/checkpoint.safetensors.")
    var resume = false
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard discriminatorSteps >= 1 else { throw ValidationError("-k must be at least 1") }
        guard (steps == nil) != (epochs == nil) else { throw ValidationError("give exactly one of --steps or --epochs") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let epochs, !(epochs > 0) { throw ValidationError("--epochs must be positive") }
        if let channels, channels != 1 && channels != 3 { throw ValidationError("--channels must be 1 or 3") }
        if let imageSize, imageSize < 4 { throw ValidationError("--image-size must be at least 4") }
        if preset == .dcgan, architecture == nil, let imageSize, ![28, 32, 64].contains(imageSize) {
            throw ValidationError("the dcgan preset comes in 28, 32 and 64 pixels; --image-size \(imageSize) needs --architecture")
        }
        if preset == .dcganUpsample, architecture == nil, let imageSize, ![32, 64].contains(imageSize) {
            throw ValidationError("the dcgan-upsample preset comes in 32 and 64 pixels; --image-size \(imageSize) needs --architecture")
        }
        guard lr > 0, (dLr ?? lr) > 0 else { throw ValidationError("learning rates must be positive") }
        guard lrDecay > 0, lrDecay <= 1, lrDecayEvery >= 1 else { throw ValidationError("--lr-decay must be in (0, 1] and --lr-decay-every at least 1") }
        if let width, width < 1 { throw ValidationError("--width must be at least 1") }
        if let ema, !(ema > 0 && ema < 1) { throw ValidationError("--ema must lie between 0 and 1 (such as 0.999), not \(ema)") }
        if let modeSeeking, !(modeSeeking > 0 && modeSeeking <= 100) { throw ValidationError("--mode-seeking must be a weight in (0, 100], such as 1, not \(modeSeeking)") }
        if !conditional, classJoin != nil || embeddingSize != nil {
            throw ValidationError("--class-join and --embedding-size are for conditional training; add --conditional")
        }
        if let embeddingSize, embeddingSize < 1 { throw ValidationError("--embedding-size must be at least 1") }
        try Limits.check(batchSize, 1...Limits.maximumBatchSize, "--batch-size")
        if let width { try Limits.check(width, 1...4096, "--width") }
        if let latentSize { try Limits.check(latentSize, 1...ModelManifest.maximumLatentSize, "--latent-size") }
        if let imageSize { try Limits.check(imageSize, 4...1024, "--image-size") }
        // A model directory already there is continued with --resume, replaced with --force.
        let existing = ["model.json", "checkpoint.safetensors"].map { URL(fileURLWithPath: output).appendingPathComponent($0).path }
        if !resume && !outputOptions.force && existing.contains(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw ValidationError("-o \(output) already holds a model; add --resume to continue its training, or --force to start again over it")
        }
    }

    func run() throws {
        let started = Date()
        let dataset = try loadDataset()
        let arch = try makeArchitecture(for: dataset)
        var config = TrainingConfig(architecture: arch)
        config.batchSize = batchSize
        config.discriminatorSteps = discriminatorSteps
        config.loss = loss
        let dlr = dLr ?? lr
        switch optimizer {
        case .adam:
            config.generatorOptimizer = .adam(learningRate: lr, beta1: beta1, beta2: 0.999)
            config.discriminatorOptimizer = .adam(learningRate: dlr, beta1: beta1, beta2: 0.999)
        case .sgd:
            config.generatorOptimizer = .sgd(learningRate: lr, momentum: momentum, nesterov: true)
            config.discriminatorOptimizer = .sgd(learningRate: dlr, momentum: momentum, nesterov: true)
        }
        config.schedule = LearningRateSchedule(factor: lrDecay, every: lrDecayEvery)
        config.initialisation = initialisation
        config.seed = seed
        config.averageDecay = ema
        config.modeSeeking = modeSeeking.map(ModeSeeking.init(weight:))
        if conditional {
            guard dataset.labels != nil else {
                throw UserError("--conditional needs labelled data: give --labels LABELS (an IDX label file) with IDX or .npy images, or put each class's PNGs in its own subfolder of --data \(data)")
            }
            config.conditional = ConditionalSettings(classes: max(dataset.classCount, dataset.classNames?.count ?? 0),
                                                     join: classJoin ?? .concatLatentFirst, latentSize: arch.latentSize,
                                                     embeddingSize: embeddingSize, classNames: dataset.classNames)
        } else if dataset.labels != nil, !outputOptions.quiet {
            log("the data has \(dataset.classCount) classes; they are not used without --conditional")
        }
        let trainer: GANTrainer
        do { trainer = try GANTrainer(config: config, data: ShuffledImages(dataset, seed: seed, flips: flip)) } catch {
            throw UserError("\(error)")
        }
        let outDir = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: outDir.appendingPathComponent("progress"), withIntermediateDirectories: true)
        let checkpoint = outDir.appendingPathComponent("checkpoint.safetensors")
        if resume {
            do { try trainer.loadCheckpoint(from: checkpoint) } catch { throw UserError("--resume: \(error)") }
        }
        let total = steps ?? Int((epochs! * Double(trainer.batchesPerEpoch) / Double(discriminatorSteps)).rounded(.up))
        let reporter = ConsoleTrainingReporter(quiet: outputOptions.quiet, progressFolder: outDir.appendingPathComponent("progress"),
                                               range: arch.outputRange,
                                               columns: config.conditional.flatMap { classColumns($0.classes, samples: config.sampleCount) },
                                               deadline: timeLimit.map { Date().addingTimeInterval($0 * 60) })
        if !outputOptions.quiet {
            log("training \(arch.name): G \(trainer.generator.parameterCount) parameters, D \(trainer.discriminator.parameterCount); \(dataset.count) images \(dataset.channels)x\(dataset.height)x\(dataset.width) from \(dataset.source); \(config.conditional.map { "conditional (\($0.summary)); " } ?? "")\(trainer.batchesPerEpoch) batches per epoch; steps \(trainer.step) -> \(total)")
        }
        trainingInterrupted = 0
        let run = TrainingRun(totalSteps: total, sampleEvery: sampleEvery, checkpointEvery: checkpointEvery, checkpoint: checkpoint)
        // Ctrl-C asks the loop to stop at the next step, checkpoint and export; a second one ends it.
        let (outcome, last) = try TemporaryFiles.whileInterruptStops({ trainingInterrupted = 1 }) {
            try run.run(trainer, reporter: reporter)
        }
        try reporter.writeAnimation(to: outDir.appendingPathComponent("progress.gif"))
        let seconds = Date().timeIntervalSince(started)
        let modelName = name ?? outDir.lastPathComponent
        let info = trainer.record(command: (["forger"] + CommandLine.arguments.dropFirst()).joined(separator: " "), dataset: dataset,
                                  last: last, seconds: seconds, finished: outcome == .finished, machine: machineDescription())
        try trainer.exportModel(to: outDir, name: modelName, description: "\(arch.name) \(conditional ? "class-conditional " : "")GAN generator trained by forger train on \(URL(fileURLWithPath: dataset.source).lastPathComponent)",
                                training: info)
        let finalGrid = try reporter.grid(trainer.samples())
        try PNG.write(finalGrid, to: outDir.appendingPathComponent("samples.png"))
        if !outputOptions.quiet {
            log("\n\(outcome == .interrupted ? "interrupted" : "finished") at step \(trainer.step) after \(formatDuration(seconds)); model in \(outDir.path)\(outcome == .interrupted ? "; continue with --resume" : "")")
        }
    }


    func loadDataset() throws -> ImageDataset {
        do { return try DatasetLoader.load(data, format: dataFormat, labels: labels, size: imageSize, channels: channels) } catch {
            throw UserError("--data: \(error)")
        }
    }

    func makeArchitecture(for set: ImageDataset) throws -> GANArchitecture {
        do {
            if let architecture {
                guard let bytes = try? Data(contentsOf: URL(fileURLWithPath: architecture)) else {
                    throw UserError("--architecture \(architecture): cannot read the file")
                }
                return try GANArchitecture.parse(bytes, path: architecture)
            }
            return try GANArchitecture.preset(preset, channels: set.channels, height: set.height, width: set.width,
                                              width: width, latentSize: latentSize)
        } catch let e as UserError { throw e } catch { throw UserError("\(error)") }
    }
}

/// Grid columns for a conditional run's fixed batch (classes 0, 1, ... in turn): a multiple of
/// the class count near a square, so every column shows one class; nil (square) past 16 classes.
func classColumns(_ classes: Int, samples: Int) -> Int? {
    guard classes <= 16 else { return nil }
    return classes * max(1, Int((Double(samples).squareRoot() / Double(classes)).rounded()))
}

func formatDuration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%dh%02dm%02ds", t / 3600, t / 60 % 60, t % 60)
        : String(format: "%dm%02ds", t / 60, t % 60)
}

/// Progress bar on stderr (a fresh line every 50 steps when stderr is not a terminal),
/// sample grids as PNGs, frames kept for the progress GIF.
final class ConsoleTrainingReporter: TrainingReporter {
    let quiet: Bool
    let progressFolder: URL
    let range: (Float, Float)
    /// Grid columns (conditional runs: one per class, as the fixed batch cycles through them); nil: square.
    let columns: Int?
    let isTerminal = isatty(2) != 0
    private(set) var frames: [PixelImage] = []

    let deadline: Date?

    init(quiet: Bool, progressFolder: URL, range: (Float, Float), columns: Int? = nil, deadline: Date?) {
        self.quiet = quiet; self.progressFolder = progressFolder; self.range = range; self.columns = columns
        self.deadline = deadline
    }

    var shouldStop: Bool { trainingInterrupted != 0 || deadline.map { Date() >= $0 } ?? false }

    func stepFinished(_ s: StepStats, of total: Int, elapsed: Double, stepsThisRun: Int) {
        guard !quiet, isTerminal || s.step % 50 == 0 || s.step == total else { return }
        let done = Double(s.step) / Double(total)
        let barWidth = 24, filled = Int(done * Double(barWidth))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: barWidth - filled)
        let rate = elapsed / Double(max(1, stepsThisRun))
        let eta = rate * Double(total - s.step)
        let line = String(format: "step %d/%d [%@] %3.0f%% epoch %.2f  D %.3f  G %.3f  D(x) %.2f  D(G(z)) %.2f  lr %.2g  ETA %@",
                          s.step, total, bar, done * 100, s.epoch, s.discriminatorLoss, s.generatorLoss, s.realScore,
                          s.fakeScore, s.learningRate, formatDuration(eta))
        FileHandle.standardError.write(Data((isTerminal ? "\r" + line : line + "\n").utf8))
    }

    func grid(_ samples: Tensor) throws -> PixelImage {
        let images = try Renderer.pixels(samples, range: range).map { $0.upscaled(by: 2) }
        let columns = self.columns ?? Int(Double(images.count).squareRoot().rounded(.up))
        var grid = Grid(rows: (images.count + columns - 1) / columns, columns: columns,
                        tiles: images + [PixelImage?](repeating: nil, count: (columns - images.count % columns) % columns))
        grid.padding = 2
        let image = try grid.render()
        return images.first?.channels == 1 ? image.converted(toChannels: 1) : image
    }

    func samplesReady(_ samples: Tensor, step: Int) throws {
        let image = try grid(samples)
        try PNG.write(image, to: progressFolder.appendingPathComponent(String(format: "step-%07d.png", step)))
        frames.append(image)
    }

    func checkpointSaved(at url: URL, step: Int) {}

    func writeAnimation(to url: URL) throws {
        guard !frames.isEmpty else { return }
        try GIF.write(frames: frames, fps: 4, to: url, options: GIFOptions(framesPerSecond: 4, dither: .none))
    }
}
