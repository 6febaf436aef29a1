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
        c.prior = .uniform(low: -5, high: 5)
        c.stratifiedNoise = true
        c.seed = seed
        c.sampleCount = 1000
        return try GANTrainer(config: c, data: GaussianSamples(mean: mean, std: std, batchesPerEpoch: discriminatorSteps))
    }

    /// One frame of the animation and the figures behind it.
    public struct Frame {
        public var image: PixelImage
        public var epoch: Int
        /// Mean and standard deviation of G's samples from the fixed noise (the red histogram).
        public var sampleMean: Float, sampleStd: Float
    }

    /// Trains and renders one plot per `frameEvery` epochs; `frame` gets each as it is made.
    public func run(frame: (Frame) throws -> Void) throws -> GANTrainer {
        let trainer = try makeTrainer()
        func emit() throws {
            let v = trainer.samples().data
            let m = v.reduce(0, +) / Float(v.count)
            let sd = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Float(v.count)).squareRoot()
            try frame(Frame(image: try plot(trainer), epoch: trainer.step, sampleMean: m, sampleStd: sd))
        }
        try emit()
        while trainer.step < epochs {
            trainer.trainStep()
            if trainer.step % frameEvery == 0 || trainer.step == epochs { try emit() }
        }
        return trainer
    }

    /// The post's picture: target density (blue), histogram of G's samples (red), D(x) (green)
    /// over [-5, 5], and the epoch as the title. Fixed axes, so frames animate in place.
    public func plot(_ trainer: GANTrainer, width: Int = 480, height: Int = 320) throws -> PixelImage {
        var rng = RandomStream(seed: 0)
        let samples = trainer.samples().data.map(Double.init)       // (1000, 1)
        let xs = (0...400).map { -5 + 10 * Float($0) / 400 }
        let density = xs.map { x -> Double in
            let d = (x - mean) / std
            return Double(Foundation.exp(-0.5 * d * d) / (std * (2 * Float.pi).squareRoot()))
        }
        let logits = trainer.discriminator.forward(Tensor(shape: [xs.count, 1], data: xs), training: false, rng: &rng)
        var plot = Plot(width: width, height: height, title: "epoch \(trainer.step)", series: [
            .histogram(values: samples, bins: 50, range: -5...5, density: true, colour: RGB(230, 80, 80), label: "G(z) samples"),
            .line(x: xs.map(Double.init), y: density, colour: RGB(40, 80, 230), label: "data N(\(mean), \(std))"),
            .line(x: xs.map(Double.init), y: logits.data.map { Double(sigmoid($0)) }, colour: RGB(30, 160, 60), label: "D(x)"),
        ])
        plot.xRange = -5...5
        plot.yRange = 0...1.5
        return try plot.render()
    }
}
