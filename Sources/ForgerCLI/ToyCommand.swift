import ArgumentParser
import Foundation
import Safety
import Imaging
import Tensor
import Training

struct Toy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The post's 1-D GAN: learn N(-2, 0.5) and animate it.",
        discussion: """
        Blue: the target density. Red: a histogram of G's samples. Green: D(x) over [-5, 5]. \
        G and D are MLPs with two hidden layers of 10 units (G relu, D tanh, sigmoid output), SGD \
        with Nesterov momentum, learning rates decayed by 0.999 every 10 epochs, k D steps per G \
        step. Try --momentum 0.9 to see the oscillation (--trace records it; Tools/toy_momentum.sh compares). Everything follows from --seed.
        """)

    @Option(name: .shortAndLong, help: "Animated GIF to write.")
    var output = "toy.gif"
    @Option(help: "Also write every frame as a PNG into this folder.")
    var framesDir: String?
    @Option(help: "Write a CSV of each frame's epoch and the mean and standard deviation of G's samples.")
    var trace: String?
    @Option(help: "Epochs (one G step with its k D steps each).")
    var epochs = 400
    @Option(help: "A frame every N epochs.")
    var frameEvery = 5
    @Option(help: "Momentum of both SGD optimizers.")
    var momentum: Float = 0.6
    @Option(name: .customShort("k"), help: "Discriminator steps per generator step.")
    var discriminatorSteps = 20
    @Option(help: "Minibatch size.")
    var batchSize = 200
    @Option(name: .shortAndLong, help: "Seed of every random choice.")
    var seed: UInt64 = 0
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        try Limits.check(epochs, 1...1_000_000, "--epochs")
        try Limits.check(frameEvery, 1...1_000_000, "--frame-every")
        try Limits.check(discriminatorSteps, 1...1000, "-k")
        try Limits.check(batchSize, 1...100_000, "--batch-size")
        guard epochs / frameEvery < Limits.maximumFrames else {
            throw ValidationError("--epochs \(epochs) with --frame-every \(frameEvery) makes over \(Limits.maximumFrames) frames; raise --frame-every")
        }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
        if !output.lowercased().hasSuffix(".gif") { throw ValidationError("-o \(output): the toy's animation is a GIF; name it .gif") }
        try outputOptions.check([(output, "output"), trace.map { ($0, "--trace file") }].compactMap { $0 })
    }

    func run() throws {
        var toy = ToyGAN()
        toy.epochs = epochs; toy.frameEvery = frameEvery; toy.momentum = momentum
        toy.discriminatorSteps = discriminatorSteps; toy.batchSize = batchSize; toy.seed = seed
        if let framesDir { try FileManager.default.createDirectory(atPath: framesDir, withIntermediateDirectories: true) }
        var writer: GIFWriter? = nil
        var count = 0, lastMean: Float = .nan
        var csv = "epoch,sample_mean,sample_std\n"
        _ = try toy.run { frame in
            let image = frame.image
            if writer == nil {
                writer = try GIFWriter(url: URL(fileURLWithPath: output), width: image.width, height: image.height,
                                       options: GIFOptions(framesPerSecond: 12.5, dither: .none))
            }
            try writer!.add(image)
            count += 1
            lastMean = frame.sampleMean        // the last frame is always the final epoch's
            csv += "\(frame.epoch),\(frame.sampleMean),\(frame.sampleStd)\n"
            if let framesDir {
                let url = URL(fileURLWithPath: framesDir).appendingPathComponent(String(format: "epoch-%04d.png", frame.epoch))
                try outputOptions.check([(url.path, "--frames-dir image")])
                try PNG.write(image, to: url)
            }
        }
        try writer?.finish()
        if let trace { try AtomicFile.write(Data(csv.utf8), to: URL(fileURLWithPath: trace)) }
        if !outputOptions.quiet {
            FileHandle.standardError.write(Data("\(count) frames -> \(output); G's sample mean after \(epochs) epochs: \(String(format: "%.3f", lastMean)) (target \(toy.mean))\n".utf8))
        }
    }
}
