import Foundation
import Tensor
import Training

/// The GAN training row of `forger bench`: benchmark generator C with a small conv
/// discriminator, trained by `GANTrainer` on one fixed real batch. Tools/bench_models.py
/// (`training_pair`) builds the same pair in PyTorch and Tools/bench_peers.py times it there.
public enum TrainingBenchmark {
    /// G is benchmark C: z 100 -> linear 6272 + BN + relu -> (128, 7, 7) -> convT(128, 64, 4, 2, 1)
    /// + BN + relu -> convT(64, 1, 4, 2, 1) + tanh, 1x28x28, biases on the linear and both convTs.
    /// D: conv(1, 64, 4, 2, 1) + leaky relu 0.2 -> conv(64, 128, 4, 2, 1, no bias) + BN + leaky
    /// relu 0.2 -> flatten -> linear(6272, 1), one logit per image.
    public static func architecture() -> GANArchitecture {
        let bn = LayerBlueprint.batchNorm(eps: 1e-5, momentum: 0.1)
        let leaky = LayerBlueprint.activation(.leakyReLU(slope: 0.2))
        return GANArchitecture(
            name: "bench-c-train", latentSize: 100,
            generator: [
                .linear(out: 6272, bias: true), bn, .activation(.relu), .reshape([128, 7, 7]),            // (N, 128, 7, 7)
                .convTranspose2d(out: 64, kernel: 4, stride: 2, padding: 1, outputPadding: 0, bias: true),
                bn, .activation(.relu),                                                                  // (N, 64, 14, 14)
                .convTranspose2d(out: 1, kernel: 4, stride: 2, padding: 1, outputPadding: 0, bias: true),
                .activation(.tanh),                                                                      // (N, 1, 28, 28)
            ],
            discriminator: [
                .conv2d(out: 64, kernel: 4, stride: 2, padding: 1, bias: true), leaky,                    // (N, 64, 14, 14)
                .conv2d(out: 128, kernel: 4, stride: 2, padding: 1, bias: false), bn, leaky,              // (N, 128, 7, 7)
                .flatten, .linear(out: 1, bias: true),                                                    // (N, 1)
            ])
    }

    /// The row's settings: batch 64 unless told, Adam lr 2e-4 with betas 0.5 and 0.999 for both
    /// networks, one D step per G step, the non-saturating loss, DCGAN initialisation, normal latents.
    public static func config(architecture: GANArchitecture = architecture(), batchSize: Int = 64) -> TrainingConfig {
        var c = TrainingConfig(architecture: architecture)
        c.batchSize = batchSize
        c.discriminatorSteps = 1
        c.loss = .nonSaturating
        c.generatorOptimizer = .adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999)
        c.discriminatorOptimizer = .adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999)
        c.initialisation = .dcgan
        c.prior = .normal
        c.sampleCount = 1
        return c
    }

    /// A trainer for `config` whose real batches are all one `FixedRealBatch`.
    public static func trainer(_ config: TrainingConfig, sampleShape: [Int] = [1, 28, 28]) throws -> GANTrainer {
        try GANTrainer(config: config, data: FixedRealBatch(sampleShape: sampleShape, batchSize: config.batchSize))
    }
}

/// The same real batch every time: value i is ((i * 2654435761) mod 2^32) / 2^32 * 2 - 1, a
/// fixed spread over [-1, 1) that Tools/bench_peers.py (`fixed_real_batch`) reproduces exactly.
/// For timing only: it ignores the requested range.
public final class FixedRealBatch: RealSamples {
    public let sampleShape: [Int]
    public let values: Tensor

    public init(sampleShape: [Int], batchSize: Int) {
        self.sampleShape = sampleShape
        values = Tensor(shape: [batchSize] + sampleShape, data: Self.values(count: batchSize * sampleShape.reduce(1, *)))
    }

    /// The first `count` values of the sequence.
    public static func values(count: Int) -> [Float] {
        (0..<count).map { i in Float(Double((UInt64(i) &* 2654435761) % (1 << 32)) / 4294967296 * 2 - 1) }
    }

    public func batchesPerEpoch(batchSize: Int) -> Int { 1 }

    public func batch(number: Int, size: Int, range: (Float, Float), rng: inout RandomStream) -> Tensor {
        precondition(size == values.shape[0], "FixedRealBatch holds \(values.shape[0]) samples, asked for \(size)")
        return values
    }
}
