import ArgumentParser
import Foundation
import Latent
import ModelIO
import Render
import Tensor

/// How latents are drawn from seeds: the model's prior unless overridden, and truncation.
struct LatentOptions: ParsableArguments {
    @Option(help: "Prior for seeds: 'normal' or 'uniform:LOW:HIGH' (default: the model's).")
    var prior: String?
    @Option(help: "Truncation for seeds: 'psi:0.7' scales toward the mean (z' = psi z); 'resample:2' redraws components beyond 2 (BigGAN).")
    var truncation: String?
    @Option(name: .customLong("class"), help: "Class for a conditional model (default 0).")
    var label: Int?

    func resolvedPrior(_ model: LoadedModel) throws -> LatentPrior {
        guard let prior else { return LatentPrior(model.manifest.distribution) }
        let parts = prior.split(separator: ":").map(String.init)
        switch parts.first {
        case "normal" where parts.count == 1: return .normal
        case "uniform" where parts.count == 3:
            guard let lo = Float(parts[1]), let hi = Float(parts[2]) else { break }
            let p = LatentPrior.uniform(low: lo, high: hi)
            try p.validate()
            return p
        default: break
        }
        throw UserError("--prior '\(prior)': use 'normal' or 'uniform:LOW:HIGH', e.g. uniform:-1:1")
    }

    func resolvedTruncation() throws -> Truncation {
        guard let truncation else { return .none }
        let parts = truncation.split(separator: ":").map(String.init)
        if parts.count == 2, let v = Float(parts[1]) {
            let t: Truncation? = parts[0] == "psi" ? .psi(v) : parts[0] == "resample" ? .resample(threshold: v) : nil
            if let t { try t.validate(); return t }
        }
        throw UserError("--truncation '\(truncation)': use psi:PSI (0 < PSI <= 1) or resample:THRESHOLD (> 0)")
    }
}

/// Where and how a command writes its picture.
struct RenderOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output file (.png or .gif); a recipe is written beside it.")
    var output: String
    @Option(help: "Enlarge each image by this integer factor (default: until it is at least 64 px).")
    var scale: Int?
    @Option(help: "GIF frames per second.")
    var fps: Double = 12
    @Flag(help: "GIF: no dithering of colour frames.")
    var noDither = false
    @Option(help: "Images computed at once (bounds memory).")
    var batchSize = 64
    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func validate() throws {
        if let scale, !(1...64).contains(scale) { throw ValidationError("--scale must be 1 to 64") }
        guard fps > 0, fps <= 50 else { throw ValidationError("--fps must be above 0 and at most 50") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    var url: URL { URL(fileURLWithPath: output) }

    var format: RenderPlan.Format {
        get throws {
            switch url.pathExtension.lowercased() {
            case "png": return .png
            case "gif": return .gif
            default: throw UserError("-o \(output): the file name must end in .png or .gif")
            }
        }
    }
}

/// A loaded model plus the options that turn sources into latents; ends by rendering a plan
/// and writing its recipe.
struct Session {
    let model: LoadedModel
    let modelArgument: String
    let prior: LatentPrior
    let truncation: Truncation
    let label: Int?

    init(_ target: ModelArgument, _ options: LatentOptions) throws {
        model = try target.load()
        modelArgument = target.model
        prior = try options.resolvedPrior(model)
        truncation = try options.resolvedTruncation()
        label = options.label
        if let c = model.manifest.conditioning {
            if let label, !(0..<c.classes).contains(label) {
                throw UserError("--class \(label): model '\(model.manifest.name)' has classes 0 to \(c.classes - 1)")
            }
        } else if label != nil {
            throw UserError("--class: model '\(model.manifest.name)' is not conditional")
        }
    }

    var size: Int { model.manifest.latentSize }

    /// Latents for a comma-separated list of sources (seed:N, seed:N..M, file.json#name, file.npy#row).
    func latents(_ list: String, option: String) throws -> [NamedLatent] {
        let parts = list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw UserError("\(option): no latents given; use \(LatentSource.acceptedForms)") }
        do {
            return try parts.flatMap { try LatentSource.parse($0).resolve(size: size, prior: prior, truncation: truncation) }
        } catch let e as LatentError {
            throw UserError("\(option): \(e)")
        }
    }

    /// One latent from a single source.
    func latent(_ text: String, option: String) throws -> NamedLatent {
        let all = try latents(text, option: option)
        guard all.count == 1 else { throw UserError("\(option) '\(text)' stands for \(all.count) latents; give exactly one") }
        return all[0]
    }

    /// Class labels for `count` latents, or nil for unconditional models.
    func labels(_ count: Int) -> [Int]? {
        model.manifest.conditioning == nil ? nil : [Int](repeating: label ?? 0, count: count)
    }

    func scale(_ options: RenderOptions) -> Int {
        options.scale ?? RenderPlan.autoScale(width: model.manifest.outputWidth, height: model.manifest.outputHeight)
    }

    func gifSettings(_ options: RenderOptions, loop: Bool = true) -> RenderPlan.GIFSettings {
        .init(fps: options.fps, loopCount: loop ? 0 : nil, dither: !options.noDither)
    }

    /// Renders the plan to the output and writes the recipe beside it.
    func finish(_ plan: RenderPlan, _ options: RenderOptions, command: String, settings: [String: String]) throws {
        var renderer = Renderer(model: model, batchSize: options.batchSize)
        renderer.batchSize = options.batchSize
        let progress: ProgressReporter = options.quiet ? SilentProgress() : TerminalProgress()
        try renderer.render(plan, to: options.url, progress: progress)
        var all = settings
        all["model"] = modelArgument
        all["output"] = options.output
        all["scale"] = String(plan.layout.scale)
        if plan.format == .gif { all["fps"] = String(options.fps); all["dither"] = String(!options.noDither) }
        let recipe = Recipe(model: .init(name: model.manifest.name, weightsHash: model.weightsHash,
                                         location: model.directory.path),
                            command: ["forger", command] + CommandLineRecord.arguments, options: all, plan: plan)
        try Recipe.writeAtomically(recipe, besides: options.url)
        if !options.quiet {
            FileHandle.standardError.write(Data("wrote \(options.output) (\(plan.frames.count) frame\(plan.frames.count == 1 ? "" : "s")) and \(Recipe.url(besides: options.url).lastPathComponent)\n".utf8))
        }
    }
}

/// The arguments the current command was parsed from, for recipes.
enum CommandLineRecord {
    nonisolated(unsafe) static var arguments: [String] = []
}

extension Recipe {
    static func writeAtomically(_ recipe: Recipe, besides output: URL) throws {
        try AtomicFile.write(try recipe.encoded(), to: Recipe.url(besides: output))
    }
}

/// "-3..3" -> -3...3
func parseRange(_ text: String, option: String) throws -> ClosedRange<Float> {
    let parts = text.components(separatedBy: "..")
    guard parts.count == 2, let lo = Float(parts[0]), let hi = Float(parts[1]), lo.isFinite, hi.isFinite, lo <= hi else {
        throw UserError("\(option) '\(text)': write a range as LOW..HIGH, e.g. -3..3")
    }
    return lo...hi
}

/// "0..9" or "1,5,7" or "0..3,8" -> dimensions, each checked against the latent size.
func parseDimensions(_ text: String, size: Int, option: String) throws -> [Int] {
    var dims: [Int] = []
    for part in text.split(separator: ",") {
        let p = part.trimmingCharacters(in: .whitespaces)
        if let r = p.range(of: "..") {
            guard let lo = Int(p[..<r.lowerBound]), let hi = Int(p[r.upperBound...]), lo <= hi else {
                throw UserError("\(option) '\(p)': write a range as FIRST..LAST, e.g. 0..9")
            }
            dims += Array(lo...hi)
        } else if let d = Int(p) {
            dims.append(d)
        } else {
            throw UserError("\(option) '\(p)' is not a dimension; use numbers like 3, lists like 1,5,7 or ranges like 0..9")
        }
    }
    guard !dims.isEmpty else { throw UserError("\(option): no dimensions given") }
    if let bad = dims.first(where: { !(0..<size).contains($0) }) {
        throw UserError("\(option): dimension \(bad) is out of range; this model's latent has dimensions 0 to \(size - 1)")
    }
    return dims
}

/// Indices 0..<count and back again without repeating either end, for animations that loop
/// smoothly: 0 1 2 3 2 1 (then 0 again as the GIF loops).
func pingPong(_ count: Int) -> [Int] {
    Array(0..<count) + Array((1..<max(1, count - 1)).reversed())
}

/// A short number for captions: 1.5, -3, 0.25.
func caption(_ v: Float) -> String {
    let s = String(format: "%.2f", v)
    var t = s
    while t.contains(".") && (t.hasSuffix("0") || t.hasSuffix(".")) { t.removeLast() }
    return t == "-0" ? "0" : t
}
