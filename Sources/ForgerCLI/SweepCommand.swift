import ArgumentParser
import Foundation
import Latent
import Render
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
    @Option(parsing: .unconditional, help: "Values as LOW..HIGH, e.g. -2..2 (default: the prior's spread).")
    var range: String?
    @Option(help: "Values per dimension.")
    var steps = 9
    @Flag(help: "Order dimensions by how much they change the image.")
    var rank = false
    @Option(help: "With --rank: keep only the top K dimensions.")
    var top: Int?
    @OptionGroup var latentOptions: LatentOptions
    @OptionGroup var render: RenderOptions

    func validate() throws {
        guard steps >= 2 else { throw ValidationError("--steps must be at least 2") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if top != nil && !rank { throw ValidationError("--top keeps the top dimensions of --rank; add --rank") }
    }

    func run() throws {
        let session = try Session(target, latentOptions)
        let baseLatent = try session.latent(base, option: "--base")
        var dimensions = try dims.map { try parseDimensions($0, size: session.size, option: "--dims") }
            ?? Array(0..<min(10, session.size))
        let values = Sweep.evenlySpaced(try range.map { try parseRange($0, option: "--range") } ?? session.prior.spread, steps: steps)
        var sweep = try Sweep(base: baseLatent.vector, dimensions: dimensions, values: values)
        var scores: [Int: Double] = [:]
        if rank {
            let z = Tensor(latentRows: sweep.latents(), size: session.size)
            let y = session.model.inferenceGenerator.forward(z, labels: session.labels(z.shape[0]), batchSize: render.batchSize)
            let per = y.count / y.shape[0]
            let rows = dimensions.indices.map { r in
                (0..<steps).map { c in Array(y.data[((r * steps + c) * per)..<((r * steps + c + 1) * per)]) }
            }
            let ranked = Sweep.rank(dimensions: dimensions, rows: rows)
            dimensions = ranked.prefix(top ?? ranked.count).map(\.dimension)
            for r in ranked { scores[r.dimension] = r.score }
            sweep = try Sweep(base: baseLatent.vector, dimensions: dimensions, values: values)
        }
        let latents = sweep.latents()   // row-major: one row per dimension
        let rowNames = dimensions.map { d in "z[\(d)]" + (scores[d].map { String(format: " %.3g", $0) } ?? "") }
        let plan: RenderPlan
        switch try render.format {
        case .png:
            plan = RenderPlan(format: .png, latents: latents, labels: session.labels(latents.count),
                              frames: [.init(tiles: latents.indices.map { $0 })],
                              layout: .init(columns: steps, scale: session.scale(render), rowCaptions: rowNames,
                                            columnCaptions: values.map(caption), title: "sweep of \(baseLatent.name)"))
        case .gif:
            // All dimensions side by side; frames run through the values and back.
            let order = pingPong(steps)
            let cols = Int(Double(dimensions.count).squareRoot().rounded(.up))
            plan = RenderPlan(format: .gif, latents: latents, labels: session.labels(latents.count),
                              frames: order.map { c in .init(tiles: dimensions.indices.map { $0 * steps + c }, caption: "value \(caption(values[c]))") },
                              layout: .init(columns: cols, scale: session.scale(render), tileLabels: rowNames,
                                            title: "sweep of \(baseLatent.name)"),
                              gif: session.gifSettings(render))
        }
        try session.finish(plan, render, command: "sweep", settings: [
            "base": base, "dims": dims ?? "", "range": range ?? "", "steps": String(steps), "rank": String(rank),
            "top": top.map(String.init) ?? ""])
    }
}

struct Analogy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An analogy grid: cell (x, y) shows A + x (B - A) + y (C - A).")

    @OptionGroup var target: ModelArgument
    @Argument(help: "Corner A (a latent source).") var a: String
    @Argument(help: "Corner B: x moves toward it.") var b: String
    @Argument(help: "Corner C: y moves toward it.") var c: String
    @Option(help: "Cells along each side.") var steps = 5
    @Option(help: "How far x and y go (1 reaches B and C; more extrapolates).") var extent: Float = 1
    @OptionGroup var latentOptions: LatentOptions
    @OptionGroup var render: RenderOptions

    func validate() throws {
        guard steps >= 2 else { throw ValidationError("--steps must be at least 2") }
        guard extent > 0, extent.isFinite else { throw ValidationError("--extent must be positive") }
    }

    func run() throws {
        let session = try Session(target, latentOptions)
        let (la, lb, lc) = (try session.latent(a, option: "A"), try session.latent(b, option: "B"), try session.latent(c, option: "C"))
        let ts = Sweep.evenlySpaced(0...extent, steps: steps)
        let cells = Latent.analogy(la.vector, lb.vector, lc.vector, xs: ts, ys: ts)
        guard try render.format == .png else { throw UserError("-o: an analogy grid is a PNG; name it .png") }
        let plan = RenderPlan(format: .png, latents: cells, labels: session.labels(cells.count),
                              frames: [.init(tiles: cells.indices.map { $0 })],
                              layout: .init(columns: steps, scale: session.scale(render),
                                            rowCaptions: ts.map { "y=\(caption($0))" }, columnCaptions: ts.map { "x=\(caption($0))" },
                                            title: "A=\(la.name) B=\(lb.name) C=\(lc.name)"))
        try session.finish(plan, render, command: "analogy", settings: [
            "a": a, "b": b, "c": c, "steps": String(steps), "extent": String(extent)])
    }
}

struct RenderRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Redraw an output from its recipe (out.recipe.json), byte for byte.")

    @Argument(help: "A recipe file written beside an output.") var recipe: String
    @Option(name: .shortAndLong, help: "Where to write (default: the recipe's original output path).") var output: String?
    @Option(help: "The model directory, if it moved (its weights must match the recipe's hash).") var model: String?
    @Flag(name: .shortAndLong, help: "Print nothing but errors.") var quiet = false

    func run() throws {
        let url = URL(fileURLWithPath: recipe)
        let r = try Recipe.read(url)
        let loaded = try ModelArgument.parse([model ?? r.model.location]).load()
        guard loaded.weightsHash == r.model.weightsHash else {
            throw RenderError.modelMismatch(recipe: recipe, expected: r.model.weightsHash, found: loaded.weightsHash)
        }
        guard let out = output ?? r.options["output"] else { throw UserError("\(recipe) names no output; give -o") }
        let progress: ProgressReporter = quiet ? SilentProgress() : TerminalProgress()
        try Renderer(model: loaded).render(r.plan, to: URL(fileURLWithPath: out), progress: progress)
        if !quiet { FileHandle.standardError.write(Data("wrote \(out) from \(recipe)\n".utf8)) }
    }
}
