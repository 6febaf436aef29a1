import ArgumentParser
import Foundation
import Imaging
import Latent
import ModelIO
import NN
import Render
import Safety
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
    @Option(name: [.customShort("n"), .long], help: "Number of samples drawn from seeds, 1 to \(Limits.maximumLatents) (default 16).")
    var samples: Int?
    @Option(name: .shortAndLong, help: "Seed of the first sample; sample i uses seed+i (default 0).")
    var seed: UInt64?
    @Option(help: "Read latents from a float32 .npy (N, size) or a latents .json.")
    var latents: String?
    @Option(help: "Latent sources, comma-separated: seed:N, seed:N..M, FILE.json#NAME, FILE.npy#ROW.")
    var from: String?
    @OptionGroup var latentOptions: LatentOptions
    @Option(name: .shortAndLong, help: "Write the samples as one PNG grid here (its recipe is written beside it as <output>.recipe.json).")
    var output: String?
    @Option(help: "Write the raw outputs, float32 (N, C, H, W), to this .npy file.")
    var outNpy: String?
    @Option(help: "Also write one PNG per sample, named after its latent (seed-0017.png), and the latents (latents.json and latents.npy), into this folder.")
    var each: String?
    @Option(help: "Render only part I of N (I/N, 1-based) of the samples; needs --each.")
    var shard: String?
    @Option(help: "Grid columns, 1 to \(Limits.maximumColumns) (default: a near-square grid).")
    var columns: Int?
    @OptionGroup var layout: LayoutOptions
    @OptionGroup var files: OutputOptions

    var count: Int { samples ?? 16 }
    var scale: Int? { layout.scale }
    var noLabels: Bool { layout.noLabels }
    var batchSize: Int { layout.batchSize }

    func validate() throws {
        guard output != nil || outNpy != nil || each != nil else {
            throw ValidationError("nothing to write: give -o grid.png, --each DIR and/or --out-npy outputs.npy")
        }
        try Limits.check(count, 1...Limits.maximumLatents, "-n/--samples")
        if let columns { try Limits.check(columns, 1...Limits.maximumColumns, "--columns") }
        if latents != nil && from != nil { throw ValidationError("give --latents or --from, not both") }
        if latents != nil || from != nil, samples != nil || seed != nil {
            throw ValidationError("-n and --seed draw latents from seeds; with --latents or --from the latents are given, so leave them out")
        }
        if let seed, seed.addingReportingOverflow(UInt64(count - 1)).overflow {
            throw ValidationError("--seed \(seed) with -n \(count): the last seed would pass \(UInt64.max); use a smaller seed")
        }
        if shard != nil && each == nil { throw ValidationError("--shard splits the per-sample files of --each; give --each DIR") }
        if output == nil, columns != nil || noLabels {
            throw ValidationError("--columns and --no-labels lay out the grid; give -o grid.png")
        }
        if output == nil && each == nil && scale != nil { throw ValidationError("--scale enlarges images of -o or --each; give one") }
        if let output, !output.lowercased().hasSuffix(".png") { throw ValidationError("-o \(output): the grid is a PNG; name it .png") }
        if let outNpy, !outNpy.lowercased().hasSuffix(".npy") { throw ValidationError("--out-npy \(outNpy): name it .npy") }
        var outputs: [(String, String)] = []
        if let output { outputs += [(output, "output"), (Recipe.url(besides: URL(fileURLWithPath: output)).path, "recipe of the output")] }
        if let outNpy { outputs.append((outNpy, "--out-npy file")) }
        try files.check(outputs)
        _ = try parsedShard()
    }

    /// "2/4" -> (1, 4) zero-based.
    func parsedShard() throws -> (index: Int, of: Int)? {
        guard let shard else { return nil }
        let p = shard.split(separator: "/")
        guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), (1...Limits.maximumLatents).contains(n), (1...n).contains(i) else {
            throw ValidationError("--shard '\(shard)': write I/N with 1 <= I <= N, e.g. 2/4")
        }
        return (i - 1, n)
    }

    func run() throws {
        let session = try Session(target, latentOptions)
        if output != nil, latents == nil, from == nil {     // before drawing the latents
            let m = session.model.manifest
            try Renderer.checkSize(tiles: count, layout: .init(columns: columns ?? Int(Double(count).squareRoot().rounded(.up)),
                                                                 scale: scale ?? session.scale(nil)),
                                   width: m.outputWidth, height: m.outputHeight)
        }
        let all = try samples(session)
        if let bad = all.firstIndex(where: { !$0.vector.allSatisfy(\.isFinite) }) {
            throw UserError("latent \(bad) ('\(all[bad].name)') holds NaN or an infinity; nothing was written")
        }
        var named = all
        var first = 0
        if let (i, n) = try parsedShard() {
            first = all.count * i / n
            named = Array(all[first..<(all.count * (i + 1) / n)])
        }
        let outputElements = session.model.manifest.outputChannels * session.model.manifest.outputHeight * session.model.manifest.outputWidth
        if outNpy != nil, Limits.product([named.count, outputElements]).map({ $0 > Limits.maximumElements }) ?? true {
            throw UserError("--out-npy: \(named.count) outputs of \(outputElements) values exceed the \(Limits.maximumElements >> 28) GiB "
                            + "a single .npy may hold here; write fewer samples at a time (--latents in parts, or --shard with --each)")
        }
        let eachPlan = try each.map { try EachFolder(folder: $0, all: all, first: first, count: named.count,
                                                      model: session.model.manifest.name, size: session.size, force: files.force) }
        if let output {
            let cols = columns ?? Int(Double(named.count).squareRoot().rounded(.up))
            let plan = RenderPlan(format: .png, latents: named.map(\.vector), labels: session.labels(named.count),
                                  frames: [.init(tiles: named.indices.map { $0 })],
                                  layout: .init(columns: cols, scale: scale ?? session.scale(nil),
                                                tileLabels: named.map { Self.label($0.name) }))
            // Checked before any output is written, so a refused grid leaves nothing behind.
            try Renderer(model: session.model).validate(plan)
            if let outNpy { try writeOutputs(named, session: session, to: outNpy) }
            if let eachPlan { try writeEach(named, eachPlan, session: session) }
            try session.finish(plan, output: output, batchSize: batchSize, quiet: files.quiet, noLabels: noLabels, settings: [
                "samples": String(count), "seed": String(seed ?? 0), "latents": latents ?? "", "from": from ?? "",
                "columns": String(cols)])
        } else {
            if let outNpy { try writeOutputs(named, session: session, to: outNpy) }
            if let eachPlan { try writeEach(named, eachPlan, session: session) }
            if !files.quiet {
                FileHandle.standardError.write(Data("\(named.count) samples of \(session.model.manifest.name)\n".utf8))
            }
        }
    }

    func samples(_ session: Session) throws -> [NamedLatent] {
        if let from { return try session.latents(from, option: "--from") }
        if let latents {
            do { return try LatentIO.load(URL(fileURLWithPath: latents), expectedSize: session.size) } catch {
                throw UserError("--latents: \(error)")
            }
        }
        let first = seed ?? 0
        return try session.latents("seed:\(first)..\(first + UInt64(count - 1))", option: "--seed")
    }

    /// "seed:17" -> "17"; other names as they are.
    static func label(_ name: String) -> String {
        name.hasPrefix("seed:") ? String(name.dropFirst(5)) : name
    }

    /// The raw outputs, checked to be finite before anything is written.
    func writeOutputs(_ named: [NamedLatent], session: Session, to path: String) throws {
        let z = Tensor(latentRows: named.map(\.vector), size: session.size)
        let y = session.model.inferenceGenerator.forward(z, labels: session.labels(named.count), batchSize: batchSize)
        try Renderer.checkFinite(y)
        try NPY.write(y, to: URL(fileURLWithPath: path))
    }

    func writeEach(_ named: [NamedLatent], _ folder: EachFolder, session: Session) throws {
        let plan = RenderPlan(format: .png, latents: named.map(\.vector), labels: session.labels(named.count),
                              frames: [], layout: .init(columns: 1, scale: scale ?? 1))
        let progress: ProgressReporter = files.quiet ? SilentProgress() : TerminalProgress()
        _ = try Renderer(model: session.model, batchSize: batchSize).forEachBatch(Array(named.indices), of: plan, progress: progress) { start, images in
            for (k, image) in images.enumerated() { try PNG.write(image, to: folder.imageURL(start + k)) }
        }
        try folder.writeLatents()
    }
}

/// The files `sample --each` writes into its folder: one PNG per sample, named after its
/// latent, and the latents of the whole run (every shard writes the same latents.json and
/// latents.npy, so the shards of one run fill one folder with the files of a single run).
struct EachFolder {
    let directory: URL
    let names: [String]
    let first: Int
    /// latents.json and latents.npy of the whole run, and whether each must be written.
    let latentFiles: [(url: URL, bytes: [UInt8], write: Bool)]

    /// Checks every file this shard will write before any work: an existing image or a
    /// different latents file is refused unless `force`.
    init(folder: String, all: [NamedLatent], first: Int, count: Int, model: String, size: Int, force: Bool) throws {
        let directory = URL(fileURLWithPath: folder), names = Self.fileNames(all.map(\.name))
        self.directory = directory
        self.first = first
        self.names = names
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let images = names[first..<(first + count)].map { (directory.appendingPathComponent($0 + ".png").path, "--each image") }
        do { try OutputPaths.check(images, force: force) } catch let e as OutputPaths.Refusal { throw UserError(e.description) }
        let json = [UInt8](try LatentFile(model: model, size: size, named: all).encoded())
        let npy = NPY.encode(Tensor(latentRows: all.map(\.vector), size: size))
        var files: [(url: URL, bytes: [UInt8], write: Bool)] = []
        for (file, bytes) in [("latents.json", json), ("latents.npy", npy)] {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(file)
            let existing = try? Data(contentsOf: url)
            if let existing, [UInt8](existing) == bytes { files.append((url, bytes, false)); continue }
            if existing != nil && !force {
                throw UserError("\(url.path): a latents file of another run is there; add --force to replace it, or choose another folder")
            }
            files.append((url, bytes, true))
        }
        latentFiles = files
    }

    func imageURL(_ index: Int) -> URL { directory.appendingPathComponent(names[first + index] + ".png") }

    /// Writes latents.json and latents.npy of the whole run, unless identical files are there.
    func writeLatents() throws {
        for file in latentFiles where file.write { try AtomicFile.write(file.bytes, to: file.url) }
    }

    /// File names from latent names: "seed:17" -> "seed-0017" (zero-padded to the run's
    /// largest seed, so they sort), others with every character outside [A-Za-z0-9._-]
    /// replaced by '-'; a name used twice gets "-2", "-3", ... in order.
    static func fileNames(_ latentNames: [String]) -> [String] {
        let seeds = latentNames.compactMap { $0.hasPrefix("seed:") ? UInt64($0.dropFirst(5)) : nil }
        let width = String(seeds.max() ?? 0).count
        var used: [String: Int] = [:]
        return latentNames.map { name in
            var base: String
            if name.hasPrefix("seed:"), let s = UInt64(name.dropFirst(5)) {
                let digits = String(s)
                base = "seed-" + String(repeating: "0", count: max(0, width - digits.count)) + digits
            } else {
                base = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") ? $0 : "-" })
                if base.isEmpty || base.hasPrefix(".") { base = "latent" + base }
            }
            let n = (used[base] ?? 0) + 1
            used[base] = n
            return n == 1 ? base : "\(base)-\(n)"
        }
    }
}
