import ArgumentParser
import Foundation
import Latent
import Render
import Safety
import Tensor

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Vary single latent dimensions of a base latent: one row per dimension, one column per value.",
        discussion: """
        Values default to the prior's spread (-3..3 for a normal prior, LOW..HIGH for a uniform \
        one). --rank orders the dimensions by how much they change the image (mean absolute \
        pixel change between neighbouring columns), so the interesting ones come first. With a \
        .gif output all rows animate together, one frame per value, there and back.
        """)

    @OptionGroup var target: ModelArgument
    @Option(help: "The base latent (a latent source).")
    var base = "seed:0"
    @Option(help: "Dimensions: a list or ranges, e.g. 0..9 or 3,17,42 (default: the first 10).")
    var dims: String?
    @Option(help: "Sweep along directions from this vector library (forger directions -o) instead of axes.")
    var directions: String?
    @Option(help: "With --directions: the directions to sweep, comma-separated (default: the 10 most important).")
    var names: String?
    @Option(parsing: .unconditional, help: "Values as LOW..HIGH, e.g. -2..2 (default: the prior's spread; with --directions, -3..3 sigma).")
    var range: String?
    @Option(help: "Values per dimension, 2 to \(SweepCommand.maximumSteps).")
    var steps = 9
    @Flag(help: "Order dimensions by how much they change the image.")
    var rank = false
    @Option(help: "With --rank: keep only the top K dimensions.")
    var top: Int?
    @OptionGroup var latentOptions: LatentOptions
    @OptionGroup var render: RenderOptions

    func validate() throws {
        try Limits.check(steps, 2...Self.maximumSteps, "--steps")
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if top != nil && !rank { throw ValidationError("--top keeps the top dimensions of --rank; add --rank") }
        if directions != nil && dims != nil { throw ValidationError("give --dims (axes) or --directions, not both") }
        if names != nil && directions == nil { throw ValidationError("--names picks directions from --directions FILE; add it") }
    }

    /// Values a row of a sweep holds at most.
    static let maximumSteps = 256

    func run() throws {
        let session = try Session(target, latentOptions)
        let baseLatent = try session.latent(base, option: "--base")
        var rows: [SweepRow]
        let values: [Float]
        if let directions {
            let picked = try libraryDirections(directions, names: names, session: session)
            values = Sweep.evenlySpaced(try range.map { try parseRange($0, option: "--range") } ?? -3...3, steps: steps)
            rows = picked.map { d in
                SweepRow(name: d.name, latents: Directions.grid(bases: [baseLatent.vector], directions: [(d.vector, d.sigma)], strengths: values))
            }
        } else {
            let dimensions = try dims.map { try parseDimensions($0, size: session.size, option: "--dims") }
                ?? Array(0..<min(10, session.size))
            values = Sweep.evenlySpaced(try range.map { try parseRange($0, option: "--range") } ?? session.prior.spread, steps: steps)
            rows = try dimensions.map { SweepRow(name: "z[\($0)]", latents: try Sweep(base: baseLatent.vector, dimensions: [$0], values: values).latents()) }
        }
        if rank {
            rows = rankRows(rows, session: session, batchSize: render.batchSize)
            rows = Array(rows.prefix(top ?? rows.count))
        }
        let plan = try rowGridPlan(rows, values: values.map(caption), session: session, render: render.target, title: "sweep of \(baseLatent.name)")
        try session.finish(plan, render.target, settings: [
            "base": base, "dims": dims ?? "", "directions": directions ?? "", "names": names ?? "", "range": range ?? "",
            "steps": String(steps), "rank": String(rank), "top": top.map(String.init) ?? ""])
    }
}

/// One row of a sweep-like grid: its caption and its latents, one per column.
struct SweepRow {
    var name: String
    var latents: [[Float]]
}

/// The rows ordered by how much their images change (Sweep.rank), each name followed by its score.
func rankRows(_ rows: [SweepRow], session: Session, batchSize: Int) -> [SweepRow] {
    // One row's images at a time, so memory holds a row, not the whole sweep.
    let generator = session.model.inferenceGenerator
    let images: [[[Float]]] = rows.map { row in
        let y = generator.forward(Tensor(latentRows: row.latents, size: session.size),
                                  labels: session.labels(row.latents.count), batchSize: batchSize)
        let per = y.count / max(y.shape[0], 1)
        return (0..<row.latents.count).map { c in Array(y.data[(c * per)..<((c + 1) * per)]) }
    }
    return Sweep.rank(dimensions: Array(rows.indices), rows: images).map {
        SweepRow(name: rows[$0.dimension].name + String(format: " %.3g", $0.score), latents: rows[$0.dimension].latents)
    }
}

/// A PNG with one row per `rows` entry and one column per value, or a GIF with one tile per
/// row whose frames run through the values and back.
func rowGridPlan(_ rows: [SweepRow], values: [String], session: Session, render: RenderTarget, title: String) throws -> RenderPlan {
    let latents = rows.flatMap(\.latents)   // row-major
    let steps = values.count, names = rows.map(\.name)
    switch try render.format {
    case .png:
        return RenderPlan(format: .png, latents: latents, labels: session.labels(latents.count),
                          frames: [.init(tiles: latents.indices.map { $0 })],
                          layout: .init(columns: steps, scale: session.scale(render), rowCaptions: names,
                                        columnCaptions: values, title: title))
    case .gif:
        // All rows side by side; frames run through the values and back.
        let order = pingPong(steps)
        let cols = Int(Double(rows.count).squareRoot().rounded(.up))
        return RenderPlan(format: .gif, latents: latents, labels: session.labels(latents.count),
                          frames: order.map { c in .init(tiles: rows.indices.map { $0 * steps + c }, caption: "value \(values[c])") },
                          layout: .init(columns: cols, scale: session.scale(render), tileLabels: names, title: title),
                          gif: session.gifSettings(render))
    }
}

/// A direction from a vector library, checked against the session's model.
struct LibraryDirection {
    var name: String
    var vector: [Float]
    var sigma: Double
}

/// The named directions of a library (all of them when `names` is nil: the 10 most important,
/// by rank then name), each checked against the loaded model.
func libraryDirections(_ path: String, names: String?, session: Session, limit: Int = 10) throws -> [LibraryDirection] {
    let lib = try VectorLibrary.read(URL(fileURLWithPath: path))
    let chosen: [String]
    if let names {
        chosen = names.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !chosen.isEmpty else { throw UserError("--names: no names given") }
    } else {
        let ranked = lib.vectors.filter { $0.value.direction != nil && $0.value.modelHash == session.model.weightsHash }
        guard !ranked.isEmpty else {
            throw UserError("\(path) holds no directions for model '\(session.model.manifest.name)' (weights \(session.model.weightsHash.prefix(12))…); "
                            + "make them with forger directions \(session.modelArgument) --method sefa -o \(path)")
        }
        chosen = ranked.sorted { ($0.value.direction!.rank, $0.key) < ($1.value.direction!.rank, $1.key) }.prefix(limit).map(\.key)
    }
    return try chosen.map { name in
        let v = try lib.vector(name, modelHash: session.model.weightsHash, size: session.size)
        return LibraryDirection(name: name, vector: v, sigma: lib.vectors[name]?.direction?.sigma ?? 1)
    }
}

struct Analogy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An analogy grid: cell (x, y) shows A + x (B - A) + y (C - A).")

    @OptionGroup var target: ModelArgument
    @Argument(help: "Corner A (a latent source).") var a: String
    @Argument(help: "Corner B: x moves toward it.") var b: String
    @Argument(help: "Corner C: y moves toward it.") var c: String
    @Option(help: "Cells along each side, 2 to \(SweepCommand.maximumSteps).") var steps = 5
    @Option(help: "How far x and y go (1 reaches B and C; more extrapolates).") var extent: Float = 1
    @OptionGroup var latentOptions: LatentOptions
    @OptionGroup var render: PictureOptions

    func validate() throws {
        try render.requirePNG("an analogy grid")
        try Limits.check(steps, 2...SweepCommand.maximumSteps, "--steps")
        guard extent > 0, extent.isFinite else { throw ValidationError("--extent must be positive") }
    }

    func run() throws {
        let session = try Session(target, latentOptions)
        let (la, lb, lc) = (try session.latent(a, option: "A"), try session.latent(b, option: "B"), try session.latent(c, option: "C"))
        let ts = Sweep.evenlySpaced(0...extent, steps: steps)
        let cells = Latent.analogy(la.vector, lb.vector, lc.vector, xs: ts, ys: ts)
        let plan = RenderPlan(format: .png, latents: cells, labels: session.labels(cells.count),
                              frames: [.init(tiles: cells.indices.map { $0 })],
                              layout: .init(columns: steps, scale: session.scale(render.target),
                                            rowCaptions: ts.map { "y=\(caption($0))" }, columnCaptions: ts.map { "x=\(caption($0))" },
                                            title: "A=\(la.name) B=\(lb.name) C=\(lc.name)"))
        try session.finish(plan, render.target, settings: [
            "a": a, "b": b, "c": c, "steps": String(steps), "extent": String(extent)])
    }
}

struct RenderRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Redraw an output from its recipe (out.png.recipe.json), byte for byte.")

    @Argument(help: "A recipe file written beside an output.") var recipe: String
    @Option(name: .shortAndLong, help: "Where to write (default: the recipe's output, beside the recipe).") var output: String?
    @Option(help: "The model directory, if it moved (its weights must match the recipe's hash).") var model: String?
    @OptionGroup var files: OutputOptions

    /// The output of a recipe: -o, or the recorded output's file name in the recipe's folder
    /// (a recipe is written beside its output, wherever the command was run from).
    static func defaultOutput(recipe: String, recorded: String) -> String {
        let folder = URL(fileURLWithPath: recipe).deletingLastPathComponent()
        let name = URL(fileURLWithPath: recorded).lastPathComponent
        return recipe.contains("/") ? folder.appendingPathComponent(name).relativePath : name
    }

    func run() throws {
        let url = URL(fileURLWithPath: recipe)
        let r = try Recipe.read(url)
        guard let recorded = output ?? r.options["output"] else { throw UserError("\(recipe) names no output; give -o") }
        let out = output ?? Self.defaultOutput(recipe: recipe, recorded: recorded)
        let format: RenderPlan.Format = URL(fileURLWithPath: out).pathExtension.lowercased() == "gif" ? .gif : .png
        guard URL(fileURLWithPath: out).pathExtension.lowercased() == r.plan.format.rawValue, format == r.plan.format else {
            throw UserError("-o \(out): the recipe draws a \(r.plan.format.rawValue.uppercased()); name the output .\(r.plan.format.rawValue)")
        }
        try files.check([(out, "output")])
        let loaded = try ModelArgument.parse([model ?? r.model.location]).load()
        guard loaded.weightsHash == r.model.weightsHash else {
            throw RenderError.modelMismatch(recipe: recipe, expected: r.model.weightsHash, found: loaded.weightsHash)
        }
        let progress: ProgressReporter = files.quiet ? SilentProgress() : TerminalProgress()
        try Renderer(model: loaded).render(r.plan, to: URL(fileURLWithPath: out), progress: progress)
        if !files.quiet { FileHandle.standardError.write(Data("wrote \(out) from \(recipe)\n".utf8)) }
    }
}
