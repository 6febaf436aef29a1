import ArgumentParser
import Foundation
import Imaging
import Latent
import ModelIO
import NN
import Tensor

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render samples of a model as a PNG grid, or write raw outputs as .npy.",
        discussion: """
        Latents come from --seed (sample i uses seed S+i, reproducible on every machine) or from \
        --latents (a float32 .npy of shape (N, size)). --out-npy writes the generator's raw outputs, \
        float32 (N, C, H, W), before any range mapping.
        """)

    @OptionGroup var target: ModelArgument
    @Option(name: [.customShort("n"), .long], help: "Number of samples (with --seed).")
    var count = 16
    @Option(name: .shortAndLong, help: "Seed of the first sample; sample i uses seed+i.")
    var seed: UInt64 = 0
    @Option(help: "Read latents from a float32 .npy file of shape (N, size) instead of seeds.")
    var latents: String?
    @Option(name: .customLong("class"), help: "Class label for a conditional model (default 0).")
    var label: Int?
    @Option(name: .shortAndLong, help: "Write the samples as one PNG grid here.")
    var output: String?
    @Option(help: "Write the raw outputs, float32 (N, C, H, W), to this .npy file.")
    var outNpy: String?
    @Option(help: "Grid columns (default: a near-square grid).")
    var columns: Int?
    @Option(help: "Enlarge each tile by this integer factor (default: until tiles are at least 64 px).")
    var scale: Int?
    @Option(help: "Images computed at once; bounds memory for large counts.")
    var batchSize = 64
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard output != nil || outNpy != nil else {
            throw ValidationError("nothing to write: give -o grid.png and/or --out-npy outputs.npy")
        }
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let columns, columns < 1 { throw ValidationError("--columns must be at least 1") }
        if let scale, !(1...64).contains(scale) { throw ValidationError("--scale must be 1 to 64") }
    }

    func run() throws {
        let model = try target.load()
        let z = try latentBatch(for: model)
        let labels = try classLabels(for: model, count: z.shape[0])
        let y = model.inferenceGenerator.forward(z, labels: labels, batchSize: batchSize)   // (N, C, H, W)
        if let outNpy { try NPY.write(y, to: URL(fileURLWithPath: outNpy)) }
        if let output {
            let images = try Rendering.images(y, range: model.manifest.outputRange)
            let grid = Rendering.grid(images, columns: columns, scale: scale)
            try PNG.write(grid, to: URL(fileURLWithPath: output))
        }
        if !outputOptions.quiet {
            let written = [output, outNpy].compactMap { $0 }.joined(separator: " and ")
            FileHandle.standardError.write(Data("\(z.shape[0]) samples of \(model.manifest.name) -> \(written)\n".utf8))
        }
    }

    func latentBatch(for model: LoadedModel) throws -> Tensor {
        let size = model.manifest.latentSize
        guard let latents else {
            return LatentSampler.batchTensor(seed: seed, count: count, size: size, prior: LatentPrior(model.manifest.distribution))
        }
        let z: Tensor
        do { z = try NPY.read(URL(fileURLWithPath: latents)) } catch {
            throw UserError("--latents: \(error)")
        }
        guard z.rank == 2, z.shape[1] == size else {
            throw UserError("--latents \(latents): shape \(describeShape(z.shape)) does not fit model '\(model.manifest.name)', which takes (N, \(size))")
        }
        guard z.isFinite else { throw UserError("--latents \(latents): holds NaN or infinite values") }
        return z
    }

    func classLabels(for model: LoadedModel, count: Int) throws -> [Int]? {
        guard let c = model.manifest.conditioning else {
            if label != nil { throw UserError("--class: model '\(model.manifest.name)' is not conditional") }
            return nil
        }
        let k = label ?? 0
        guard (0..<c.classes).contains(k) else {
            throw UserError("--class \(k): model '\(model.manifest.name)' has classes 0 to \(c.classes - 1)")
        }
        return [Int](repeating: k, count: count)
    }
}

extension LatentPrior {
    init(_ distribution: LatentDistribution) {
        switch distribution {
        case .normal: self = .normal
        case .uniform(let low, let high): self = .uniform(low: low, high: high)
        }
    }
}

/// Generator outputs to pixels.
enum Rendering {
    /// (N, C, H, W) floats in `range` -> N images.
    static func images(_ y: Tensor, range: (Float, Float)) throws -> [PixelImage] {
        let (n, c, h, w) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
        return try y.data.withUnsafeBufferPointer { buffer in
            try (0..<n).map { i in
                try PixelImage.fromFloats(UnsafeBufferPointer(rebasing: buffer[(i * c * h * w)..<((i + 1) * c * h * w)]),
                                          channels: c, height: h, width: w, range: range)
            }
        }
    }

    /// Tiles in a near-square grid with 2 px gaps, each enlarged until it is at least 64 px.
    static func grid(_ images: [PixelImage], columns: Int?, scale: Int?) -> PixelImage {
        let first = images[0]
        let factor = scale ?? max(1, (64 + max(first.width, first.height) - 1) / max(first.width, first.height))
        let cols = columns ?? Int(Double(images.count).squareRoot().rounded(.up))
        let rows = (images.count + cols - 1) / cols
        let gap = 2, tw = first.width * factor, th = first.height * factor
        var canvas = PixelImage(width: cols * tw + (cols + 1) * gap, height: rows * th + (rows + 1) * gap,
                                channels: first.channels, fill: 255)
        for (i, image) in images.enumerated() {
            let tile = factor == 1 ? image : image.upscaled(by: factor)
            let x0 = gap + (i % cols) * (tw + gap), y0 = gap + (i / cols) * (th + gap)
            for y in 0..<th {
                for x in 0..<tw {
                    for ch in 0..<first.channels { canvas[x0 + x, y0 + y, ch] = tile[x, y, ch] }
                }
            }
        }
        return canvas
    }
}
