import ArgumentParser
import Foundation
import Imaging
import Latent
import ModelIO
import NN
import Render
import Tensor

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render samples as a numbered grid, one PNG each, or raw outputs as .npy.",
        discussion: """
        Latents come from --seed (sample i uses seed S+i, reproducible on every machine), from \
        --latents (a float32 .npy of shape (N, size) or a Forger latents .json), or from --from \
        (sources such as seed:3,seed:10..12,picks.json#smile). Tiles are labelled with their \
        seed, so 'seed:17' can be used in later commands. --out-npy writes the generator's raw \
        outputs, float32 (N, C, H, W), before any range mapping. --each DIR writes one PNG per \
        sample plus the latents; --shard i/n renders only part i of n of the samples, with files \
        identical to those of a single run.
        """,
        aliases: ["grid"])

    @OptionGroup var target: ModelArgument
    @Option(name: [.customShort("n"), .long], help: "Number of samples (with --seed).")
    var count = 16
    @Option(name: .shortAndLong, help: "Seed of the first sample; sample i uses seed+i.")
    var seed: UInt64 = 0
    @Option(help: "Read latents from a float32 .npy (N, size) or a latents .json.")
    var latents: String?
    @Option(help: "Latent sources, comma-separated: seed:N, seed:N..M, FILE.json#NAME, FILE.npy#ROW.")
    var from: String?
    @OptionGroup var latentOptions: LatentOptions
    @Option(name: .shortAndLong, help: "Write the samples as one PNG grid here (a recipe is written beside it).")
    var output: String?
    @Option(help: "Write the raw outputs, float32 (N, C, H, W), to this .npy file.")
    var outNpy: String?
    @Option(help: "Also write one PNG per sample, and the latents (latents.json and latents.npy), into this folder.")
    var each: String?
    @Option(help: "Render only part I of N (I/N, 1-based) of the samples; needs --each.")
    var shard: String?
    @Option(help: "Grid columns (default: a near-square grid).")
    var columns: Int?
    @Option(help: "Enlarge each image by this integer factor (default: until it is at least 64 px).")
    var scale: Int?
    @Flag(help: "No sample numbers under the tiles.")
    var noLabels = false
    @Option(help: "Images computed at once; bounds memory for large counts.")
    var batchSize = 64
    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func validate() throws {
        guard output != nil || outNpy != nil || each != nil else {
            throw ValidationError("nothing to write: give -o grid.png, --each DIR and/or --out-npy outputs.npy")
        }
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let columns, columns < 1 { throw ValidationError("--columns must be at least 1") }
        if let scale, !(1...64).contains(scale) { throw ValidationError("--scale must be 1 to 64") }
        if latents != nil && from != nil { throw ValidationError("give --latents or --from, not both") }
        if shard != nil && each == nil { throw ValidationError("--shard splits the per-sample files of --each; give --each DIR") }
        if let output, !output.lowercased().hasSuffix(".png") { throw ValidationError("-o \(output): the grid is a PNG; name it .png") }
    }

    /// "2/4" -> (1, 4) zero-based.
    func parsedShard() throws -> (index: Int, of: Int)? {
        guard let shard else { return nil }
        let p = shard.split(separator: "/")
        guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), n >= 1, (1...n).contains(i) else {
            throw UserError("--shard '\(shard)': write I/N with 1 <= I <= N, e.g. 2/4")
        }
        return (i - 1, n)
    }

    func run() throws {
        let session = try Session(target, latentOptions)
        var named = try samples(session)
        let total = named.count
        var first = 0
        if let (i, n) = try parsedShard() {
            first = total * i / n
            named = Array(named[first..<(total * (i + 1) / n)])
        }
        if let each { try writeEach(named, firstIndex: first, total: total, session: session, folder: each) }
        if let outNpy {
            let z = Tensor(latentRows: named.map(\.vector), size: session.size)
            let y = session.model.inferenceGenerator.forward(z, labels: session.labels(named.count), batchSize: batchSize)
            try NPY.write(y, to: URL(fileURLWithPath: outNpy))
        }
        if let output {
            let cols = columns ?? Int(Double(named.count).squareRoot().rounded(.up))
            let plan = RenderPlan(format: .png, latents: named.map(\.vector), labels: session.labels(named.count),
                                  frames: [.init(tiles: named.indices.map { $0 })],
                                  layout: .init(columns: cols, scale: scale ?? RenderPlan.autoScale(width: session.model.manifest.outputWidth,
                                                                                                   height: session.model.manifest.outputHeight),
                                                tileLabels: noLabels ? nil : named.map { Self.label($0.name) }))
            var options = try RenderOptions.parse(["-o", output, "--batch-size", String(batchSize)] + (quiet ? ["-q"] : []))
            options.scale = scale
            try session.finish(plan, options, command: "sample", settings: [
                "count": String(count), "seed": String(seed), "latents": latents ?? "", "from": from ?? "",
                "columns": String(cols), "labels": String(!noLabels)])
        } else if !quiet {
            FileHandle.standardError.write(Data("\(named.count) samples of \(session.model.manifest.name)\n".utf8))
        }
    }

    func samples(_ session: Session) throws -> [NamedLatent] {
        if let from { return try session.latents(from, option: "--from") }
        if let latents {
            do { return try LatentIO.load(URL(fileURLWithPath: latents), expectedSize: session.size) } catch {
                throw UserError("--latents: \(error)")
            }
        }
        return try session.latents("seed:\(seed)..\(seed + UInt64(count - 1))", option: "--seed")
    }

    /// "seed:17" -> "17"; other names as they are.
    static func label(_ name: String) -> String {
        name.hasPrefix("seed:") ? String(name.dropFirst(5)) : name
    }

    func writeEach(_ named: [NamedLatent], firstIndex: Int, total: Int, session: Session, folder: String) throws {
        let dir = URL(fileURLWithPath: folder)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let width = String(max(total - 1, 0)).count
        let generator = session.model.inferenceGenerator
        let progress: ProgressReporter = quiet ? SilentProgress() : TerminalProgress()
        progress.start(total: named.count, label: "rendering")
        var start = 0
        while start < named.count {
            let part = Array(named[start..<min(named.count, start + batchSize)])
            let y = generator.forward(Tensor(latentRows: part.map(\.vector), size: session.size), labels: session.labels(part.count))
            for (k, image) in try Renderer.pixels(y, range: session.model.manifest.outputRange).enumerated() {
                let index = firstIndex + start + k
                let digits = String(index)
                let name = String(repeating: "0", count: max(0, width - digits.count)) + digits
                let scaled = (scale ?? 1) > 1 ? image.upscaled(by: scale!) : image
                try PNG.write(scaled, to: dir.appendingPathComponent("\(name).png"))
            }
            start += part.count
            guard progress.advance(by: part.count) else { break }
        }
        progress.finish()
        // The latents, both ways Python users read them: JSON (named) and .npy (N, size).
        let base = try parsedShard().map { "latents-\($0.index + 1)-of-\($0.of)" } ?? "latents"
        try LatentFile(model: session.model.manifest.name, size: session.size, named: named)
            .write(to: dir.appendingPathComponent(base + ".json"))
        try LatentIO.writeNPY(named.map(\.vector), to: dir.appendingPathComponent(base + ".npy"))
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
