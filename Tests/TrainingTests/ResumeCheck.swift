import XCTest
@testable import Training

extension XCTestCase {
    /// A tiny GAN (8x8 grey images, latent 4) with batch norm, upsampling and dropout: every
    /// part of the loop, in milliseconds.
    func tinyConfig() -> TrainingConfig {
        let arch = GANArchitecture(
            name: "tiny", latentSize: 4,
            generator: [.linear(out: 2 * 4 * 4, bias: true), .batchNorm(eps: 1e-5, momentum: 0.1), .activation(.relu),
                        .reshape([2, 4, 4]), .upsample(scale: 2),
                        .conv2d(out: 1, kernel: 3, stride: 1, padding: 1, bias: true), .activation(.tanh)],   // (N, 1, 8, 8)
            discriminator: [.conv2d(out: 3, kernel: 4, stride: 2, padding: 1, bias: true), .activation(.leakyReLU(slope: 0.2)),
                            .flatten, .dropout(rate: 0.3), .linear(out: 1, bias: true)])
        var c = TrainingConfig(architecture: arch)
        c.batchSize = 4; c.discriminatorSteps = 2; c.seed = 7; c.sampleCount = 4
        return c
    }

    func tinyData() -> ImageDataset {
        ImageDataset(channels: 1, height: 8, width: 8, pixels: (0..<(10 * 64)).map { UInt8(($0 * 37) % 256) }, source: "synthetic")
    }

    /// A fresh folder under the temporary directory, named for the test and the process.
    func temporaryDirectory(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forger-\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Every value a trainer carries from step to step: both networks' parameters (class
    /// embeddings included) and buffers, and both optimisers' state.
    func allValues(_ t: GANTrainer) -> [Float] {
        (t.generatorParameters + t.generator.namedBuffers + t.discriminatorParameters + t.discriminator.namedBuffers)
            .flatMap { $0.parameter.value.data }
            + t.generatorOptimizer.state.flatMap { $0.flatMap(\.data) } + t.discriminatorOptimizer.state.flatMap { $0.flatMap(\.data) }
    }

    /// Loads `checkpoint` (written at step 3) into `resumed`, trains it on to step 6 and asserts
    /// that it then holds `straight`'s values (trained 6 steps without a stop) bit for bit.
    func assertResumesExactly(_ resumed: GANTrainer, from checkpoint: URL, as straight: GANTrainer, _ label: String,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        try resumed.loadCheckpoint(from: checkpoint)
        XCTAssertEqual(resumed.step, 3, label, file: file, line: line)
        try TrainingRun(totalSteps: 6).run(resumed, reporter: SilentReporter())
        let a = allValues(straight), b = allValues(resumed)
        XCTAssertEqual(a.count, b.count, label, file: file, line: line)
        XCTAssertTrue(a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }, "\(label): resumed weights differ", file: file, line: line)
    }
}
