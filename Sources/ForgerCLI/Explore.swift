import ArgumentParser
import Foundation
import Safety
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
        guard let prior else { return model.manifest.distribution }
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

/// Options of every command that writes files. The rule for every output: a file that
/// already exists is refused unless --force is given, checked before any work starts.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Replace outputs that already exist (without it an existing output is an error, checked before any work).")
    var force = false
    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    /// Refuses existing outputs (unless --force) and missing folders before any work.
    func check(_ outputs: [(path: String, what: String)]) throws {
        do { try OutputPaths.check(outputs, force: force) } catch let e as OutputPaths.Refusal {
            throw ValidationError(e.description)
        }
    }
}

/// How pictures are laid out and computed: shared by every command that draws one.
struct LayoutOptions: ParsableArguments {
    @Option(help: "Enlarge each image by this integer factor, 1 to \(Limits.maximumScale) (default: until it is at least 64 px).")
    var scale: Int?
    @Flag(help: "No text in the picture: no tile labels, captions or title.")
    var noLabels = false
    @Option(help: "Images computed at once, 1 to \(Limits.maximumBatchSize) (bounds memory).")
    var batchSize = 64

    func validate() throws {
        if let scale { try Limits.check(scale, 1...Limits.maximumScale, "--scale") }
        try Limits.check(batchSize, 1...Limits.maximumBatchSize, "--batch-size")
    }
}

/// Where and how a command draws its picture.
struct PictureOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output file; its recipe is written beside it as <output>.recipe.json.")
    var output: String
    @OptionGroup var layout: LayoutOptions
    @OptionGroup var files: OutputOptions

    var quiet: Bool { files.quiet }
    var scale: Int? { layout.scale }
    var batchSize: Int { layout.batchSize }
    var url: URL { URL(fileURLWithPath: output) }

    func validate() throws {
        try files.check([(output, "output"), (Recipe.url(besides: url).path, "recipe of the output")])
    }

    var format: RenderPlan.Format { get throws { try target.format } }

    /// For commands whose picture is always a PNG.
    func requirePNG(_ what: String) throws {
        guard try format == .png else { throw UserError("-o \(output): \(what) is a PNG; name it .png") }
    }

    var target: RenderTarget {
        RenderTarget(output: output, scale: layout.scale, batchSize: layout.batchSize, quiet: files.quiet, noLabels: layout.noLabels)
    }
}

/// Options of commands that can also animate their picture as a GIF.
struct RenderOptions: ParsableArguments {
    @OptionGroup var picture: PictureOptions
    @Option(help: "GIF frames per second, above 0 and at most 50 (default 12).")
    var fps: Double?
    @Flag(help: "GIF: no dithering of colour frames.")
    var noDither = false

    var batchSize: Int { picture.batchSize }
    var format: RenderPlan.Format { get throws { try picture.format } }

    func validate() throws {
        if let fps { try RenderTarget.checkFramesPerSecond(fps) }
        if (try? picture.format) == .png, fps != nil || noDither {
            throw ValidationError("--fps and --no-dither set how a GIF is written; -o \(picture.output) is a PNG")
        }
    }

    var target: RenderTarget {
        var t = picture.target
        t.framesPerSecond = fps ?? t.framesPerSecond
        t.dither = !noDither
        return t
    }
}

/// One picture to render, as plain values: what the options above parse into, and what a
/// command that draws several pictures (or one of its own) builds directly.
struct RenderTarget {
    var output: String
    var scale: Int?
    var batchSize: Int
    var quiet: Bool
    var noLabels: Bool
    var framesPerSecond: Double = 12
    var dither = true

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

    static func checkFramesPerSecond(_ fps: Double, option: String = "--fps") throws {
        guard fps > 0, fps <= 50 else { throw ValidationError("\(option) must be above 0 and at most 50") }
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
            var all: [NamedLatent] = []
            for part in parts {
                all += try LatentSource.parse(part).resolve(size: size, prior: prior, truncation: truncation)
                guard all.count <= Limits.maximumLatents else {
                    throw UserError("\(option): over \(Limits.maximumLatents) latents; give fewer sources")
                }
            }
            return all
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

    /// The --scale given, or the enlargement that makes a tile at least 64 px.
    func scale(_ given: Int?) -> Int {
        given ?? RenderPlan.autoScale(width: model.manifest.outputWidth, height: model.manifest.outputHeight)
    }

    func scale(_ target: RenderTarget) -> Int { scale(target.scale) }

    func gifSettings(_ target: RenderTarget, loop: Bool = true) -> RenderPlan.GIFSettings {
        .init(fps: target.framesPerSecond, loopCount: loop ? 0 : nil, dither: target.dither)
    }

    /// Renders the plan to the target and writes the recipe beside it.
    func finish(_ plan: RenderPlan, _ target: RenderTarget, settings: [String: String]) throws {
        var all = settings
        if plan.format == .gif { all["fps"] = String(target.framesPerSecond); all["dither"] = String(target.dither) }
        try finish(plan, output: target.output, batchSize: target.batchSize, quiet: target.quiet, noLabels: target.noLabels,
                   settings: all)
    }

    /// Renders the plan to `output` and writes the recipe beside it; `noLabels` drops its text.
    func finish(_ plan: RenderPlan, output: String, batchSize: Int, quiet: Bool, noLabels: Bool, settings: [String: String]) throws {
        var plan = plan
        if noLabels { plan.layout.removeText(); plan.frames = plan.frames.map { var f = $0; f.caption = nil; return f } }
        let url = URL(fileURLWithPath: output)
        let renderer = Renderer(model: model, batchSize: batchSize)
        let progress: ProgressReporter = quiet ? SilentProgress() : TerminalProgress()
        try renderer.render(plan, to: url, progress: progress)
        var all = settings
        all["model"] = modelArgument
        all["output"] = output
        all["scale"] = String(plan.layout.scale)
        all["labels"] = String(!noLabels)
        let recipe = Recipe(model: .init(name: model.manifest.name, weightsHash: model.weightsHash,
                                         location: model.directory.path),
                            command: ["forger"] + CommandLineRecord.arguments, options: all, plan: plan)
        let recipeURL = Recipe.url(besides: url)
        try Recipe.writeAtomically(recipe, besides: url)
        if !quiet {
            let frames = "\(plan.frames.count) frame\(plan.frames.count == 1 ? "" : "s")"
            FileHandle.standardError.write(Data("wrote \(output) (\(frames)) and \(recipeURL.relativePath)\n".utf8))
        }
    }
}

/// The arguments the current command was parsed from, for recipes.
enum CommandLineRecord {
    nonisolated(unsafe) static var arguments: [String] = []
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
