import Foundation
import Imaging
import Tensor

/// Real samples drawn fresh from N(mean, std) for every batch (the 1-D toy's data).
public final class GaussianSamples: RealSamples {
    public let mean: Float, std: Float
    /// Real batches per epoch: the toy calls one generator step (with its k D steps) an epoch.
    public let batchesPerEpoch: Int

    public init(mean: Float, std: Float, batchesPerEpoch: Int) {
        self.mean = mean; self.std = std; self.batchesPerEpoch = batchesPerEpoch
    }

    public var sampleShape: [Int] { [1] }
    public func batchesPerEpoch(batchSize: Int) -> Int { batchesPerEpoch }
    public func batch(number: Int, size: Int, range: (Float, Float), rng: inout RandomStream) -> Tensor {
        Tensor(shape: [size, 1], data: (0..<size).map { _ in mean + std * Float(rng.nextNormal()) })
    }
}

/// The 1-D GAN toy from the post: G and D are MLPs with two hidden layers of 10 units
/// (G relu, D tanh, D's sigmoid in the loss), SGD with Nesterov momentum, k D steps per G step.
public struct ToyGAN {
    public var mean: Float = -2, std: Float = 0.5
    public var epochs = 400
    public var batchSize = 200
    public var discriminatorSteps = 20
    public var momentum: Float = 0.6
    public var generatorRate: Float = 0.01, discriminatorRate: Float = 0.1
    public var decay = LearningRateSchedule(factor: 0.999, every: 10)
    public var seed: UInt64 = 0
    /// A frame every this many epochs (plus the first and the last).
    public var frameEvery = 5

    public init() {}

    public func makeTrainer() throws -> GANTrainer {
        let arch = GANArchitecture(
            name: "toy-1d", latentSize: 1,
            generator: [.linear(out: 10, bias: true), .activation(.relu), .linear(out: 10, bias: true), .activation(.relu),
                        .linear(out: 1, bias: true)],
            discriminator: [.linear(out: 10, bias: true), .activation(.tanh), .linear(out: 10, bias: true), .activation(.tanh),
                            .linear(out: 1, bias: true)])
        var c = TrainingConfig(architecture: arch)
        c.batchSize = batchSize
        c.discriminatorSteps = discriminatorSteps
        c.loss = .nonSaturating
        c.generatorOptimizer = .sgd(learningRate: generatorRate, momentum: momentum, nesterov: true)
        c.discriminatorOptimizer = .sgd(learningRate: discriminatorRate, momentum: momentum, nesterov: true)
        c.schedule = decay
        c.initialisation = .fanInUniform
        c.prior = .stratified(low: -5, high: 5)
        c.seed = seed
        c.sampleCount = 1000
        return try GANTrainer(config: c, data: GaussianSamples(mean: mean, std: std, batchesPerEpoch: discriminatorSteps))
    }

    /// Trains and renders one plot per `frameEvery` epochs; `frame` gets each as it is made.
    public func run(frame: (PixelImage, Int) throws -> Void) throws -> GANTrainer {
        let trainer = try makeTrainer()
        try frame(plot(trainer), 0)
        while trainer.step < epochs {
            trainer.trainStep()
            if trainer.step % frameEvery == 0 || trainer.step == epochs { try frame(plot(trainer), trainer.step) }
        }
        return trainer
    }

    /// The post's picture: target density (blue), histogram of G's samples (red), D(x) (green)
    /// over [-5, 5], and the epoch as a caption.
    public func plot(_ trainer: GANTrainer, width: Int = 480, height: Int = 320) -> PixelImage {
        var plot = Plot(width: width, height: height, xRange: (-5, 5), yRange: (0, 1.1))
        var rng = RandomStream(seed: 0)
        let samples = trainer.samples().data                // (1000, 1)
        let bins = 50
        var counts = [Float](repeating: 0, count: bins)
        for v in samples {
            let b = Int(((v + 5) / 10 * Float(bins)).rounded(.down))
            if b >= 0 && b < bins { counts[b] += 1 }
        }
        let binWidth: Float = 10 / Float(bins)
        for (b, c) in counts.enumerated() where c > 0 {
            plot.bar(from: -5 + Float(b) * binWidth, to: -5 + Float(b + 1) * binWidth,
                     height: c / Float(samples.count) / binWidth, colour: RGB(230, 80, 80))
        }
        let xs = (0...400).map { -5 + 10 * Float($0) / 400 }
        let density = xs.map { x -> Float in
            let d = (x - mean) / std
            return Foundation.exp(-0.5 * d * d) / (std * (2 * Float.pi).squareRoot())
        }
        plot.curve(xs, density, colour: RGB(40, 80, 230))
        let logits = trainer.discriminator.forward(Tensor(shape: [xs.count, 1], data: xs), training: false, rng: &rng)
        plot.curve(xs, logits.data.map(sigmoid), colour: RGB(30, 160, 60))
        plot.text("EPOCH \(trainer.step)", x: 8, y: 8, scale: 2)
        return plot.image
    }
}

/// Minimal line/bar plotting on an RGB canvas with a 3x5 bitmap font for captions: enough
/// for the toy's frames. (Swap for main's Imaging plots when they land.)
public struct Plot {
    public private(set) var image: PixelImage
    let xRange: (Float, Float), yRange: (Float, Float)
    let margin = 4

    public init(width: Int, height: Int, xRange: (Float, Float), yRange: (Float, Float)) {
        image = PixelImage(width: width, height: height, channels: 3, fill: 255)
        self.xRange = xRange; self.yRange = yRange
        for x in 0..<width { image.setPixel(x: x, y: height - 1 - margin, RGB(120, 120, 120)) }
    }

    func px(_ x: Float) -> Int {
        margin + Int(((x - xRange.0) / (xRange.1 - xRange.0) * Float(image.width - 2 * margin - 1)).rounded())
    }
    func py(_ y: Float) -> Int {
        image.height - 1 - margin - Int(((y - yRange.0) / (yRange.1 - yRange.0) * Float(image.height - 2 * margin - 1)).rounded())
    }

    mutating func put(_ x: Int, _ y: Int, _ c: RGB) {
        if x >= 0 && y >= 0 && x < image.width && y < image.height { image.setPixel(x: x, y: y, c) }
    }

    public mutating func bar(from x0: Float, to x1: Float, height: Float, colour: RGB) {
        let top = max(0, py(min(height, yRange.1)))
        for x in px(x0)..<max(px(x0) + 1, px(x1)) { for y in top...py(0) { put(x, y, colour) } }
    }

    /// A polyline through (xs[i], ys[i]), 2 px thick.
    public mutating func curve(_ xs: [Float], _ ys: [Float], colour: RGB) {
        for i in 1..<xs.count {
            let (ax, ay, bx, by) = (px(xs[i - 1]), py(ys[i - 1]), px(xs[i]), py(ys[i]))
            let steps = max(abs(bx - ax), abs(by - ay), 1)
            for s in 0...steps {
                let x = ax + (bx - ax) * s / steps, y = ay + (by - ay) * s / steps
                put(x, y, colour); put(x, y + 1, colour)
            }
        }
    }

    /// Upper-case letters, digits, space and a few signs in a 3x5 font.
    public mutating func text(_ s: String, x: Int, y: Int, scale: Int = 1, colour: RGB = .black) {
        var cx = x
        for ch in s.uppercased() {
            let rows = Plot.glyphs[ch] ?? Plot.glyphs["?"]!
            for (r, bits) in rows.enumerated() {
                for c in 0..<3 where bits & (4 >> c) != 0 {
                    for dy in 0..<scale { for dx in 0..<scale { put(cx + c * scale + dx, y + r * scale + dy, colour) } }
                }
            }
            cx += 4 * scale
        }
    }

    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [7, 4, 4, 4, 7], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [7, 4, 5, 5, 7], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "K": [5, 5, 6, 5, 5],
        "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [7, 5, 5, 5, 7], "P": [7, 5, 7, 4, 4],
        "R": [7, 5, 6, 5, 5], "S": [7, 4, 7, 1, 7], "T": [7, 2, 2, 2, 2], "U": [5, 5, 5, 5, 7], "X": [5, 5, 2, 5, 5],
        "Z": [7, 1, 2, 4, 7], " ": [0, 0, 0, 0, 0], ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], "=": [0, 7, 0, 7, 0],
        "?": [7, 1, 2, 0, 2], "(": [1, 2, 2, 2, 1], ")": [4, 2, 2, 2, 4],
    ]
}
