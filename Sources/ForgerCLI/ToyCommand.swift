import ArgumentParser
import Foundation
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
    var frames: String?
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
        guard epochs >= 1, frameEvery >= 1, discriminatorSteps >= 1, batchSize >= 1 else {
            throw ValidationError("--epochs, --frame-every, -k and --batch-size must be at least 1")
        }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
    }

    func run() throws {
        var toy = ToyGAN()
        toy.epochs = epochs; toy.frameEvery = frameEvery; toy.momentum = momentum
        toy.discriminatorSteps = discriminatorSteps; toy.batchSize = batchSize; toy.seed = seed
        if let frames { try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true) }
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
            if let frames {
                try PNG.write(image, to: URL(fileURLWithPath: frames).appendingPathComponent(String(format: "epoch-%04d.png", frame.epoch)))
            }
        }
        try writer?.finish()
        if let trace { try AtomicFile.write(Data(csv.utf8), to: URL(fileURLWithPath: trace)) }
        if !outputOptions.quiet {
            FileHandle.standardError.write(Data("\(count) frames -> \(output); G's sample mean after \(epochs) epochs: \(String(format: "%.3f", lastMean)) (target \(toy.mean))\n".utf8))
        }
    }
}
