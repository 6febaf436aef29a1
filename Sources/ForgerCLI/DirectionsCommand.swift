import ArgumentParser
import Foundation
import Latent
import Render
import Safety

struct DirectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "directions",
        abstract: "Find the latent directions a generator responds to: SeFa, GANSpace or a labelled boundary.",
        discussion: """
        sefa: the eigenvectors of W W^T for the first layer's weight W (linear or transposed \
        convolution), eigenvalues descending. ganspace: PCA of the activations after --layer \
        (default: the first activation) over --samples latents from the prior, each component \
        regressed back onto the latents. boundary: the least-squares linear boundary between \
        --with and --without latents (or --labelled FILE --attribute NAME), as a unit normal; \
        --condition NAME makes it orthogonal to another boundary in the library. \
        The directions go into the vector library -o (named sefa-0, sefa-1, ... or ganspace-0, \
        ...; in latent arithmetic write {sefa-0}); --npy writes them as float32 (K, size); \
        --grid / --gif show the top ones from --base, strengths in sigma.
        """)

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case sefa, ganspace, boundary
    }

    @OptionGroup var target: ModelArgument
    @Option(help: "sefa, ganspace or boundary.") var method: Method
    @Option(name: .shortAndLong, help: "The vector library (.json) the directions are added to; created if missing.")
    var output: String
    @Option(help: "Also write the directions as float32 (K, size), one unit direction per row, most important first.")
    var npy: String?
    @Option(help: "A PNG with the top directions as rows and strengths as columns.") var grid: String?
    @Option(help: "A GIF animating the top directions together.") var gif: String?
    @Option(help: "Directions shown in --grid / --gif (default 10, or the latent size if smaller).") var top: Int?
    @Option(parsing: .unconditional, help: "Strengths in sigma as LOW..HIGH.") var strengths = "-3..3"
    @Option(help: "Number of strengths.") var steps = 7
    @Option(help: "The latents the grid starts from (sources, comma-separated).") var base = "seed:0"
    @Option(help: "Names: PREFIX-0, PREFIX-1, ... (default: the method's name); a boundary's own name (default 'boundary').")
    var name: String?
    @Flag(help: "Overwrite directions of the same names (and drop stale PREFIX-N entries).") var replace = false

    @Option(name: [.customShort("n"), .long], help: "ganspace: latents drawn from the prior (default 10000).") var samples: Int?
    @Option(help: "ganspace: the layer whose activations are factorised, numbered as forger info does.") var layer: Int?
    @Option(name: .shortAndLong, help: "ganspace: sample i is the latent of seed SEED + i.") var seed: UInt64 = 0

    @Option(help: "boundary: latents that have the attribute (sources, comma-separated).") var with: String?
    @Option(help: "boundary: latents that lack it.") var without: String?
    @Option(help: "boundary: a latents .json whose entries carry labels.") var labelled: String?
    @Option(help: "boundary: with --labelled, the attribute.") var attribute: String?
    @Option(help: "boundary: keep this library boundary fixed (make the new one orthogonal to it).") var condition: String?

    @OptionGroup var latentOptions: LatentOptions
    @Option(help: "Enlarge each image by this integer factor (default: until it is at least 64 px).") var scale: Int?
    @Option(help: "GIF frames per second.") var fps: Double = 12
    @Flag(help: "GIF: no dithering of colour frames.") var noDither = false
    @Option(help: "Images (or GANSpace samples) computed at once (bounds memory).") var batchSize = 64
    @OptionGroup var files: OutputOptions

    var quiet: Bool { files.quiet }

    func validate() throws {
        func ends(_ path: String?, _ ext: String, _ option: String) throws {
            if let path, URL(fileURLWithPath: path).pathExtension.lowercased() != ext {
                throw ValidationError("\(option) \(path): the file name must end in .\(ext)")
            }
        }
        try ends(output, "json", "-o"); try ends(npy, "npy", "--npy"); try ends(grid, "png", "--grid"); try ends(gif, "gif", "--gif")
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if let scale { try Limits.check(scale, 1...Limits.maximumScale, "--scale") }
        try Limits.check(batchSize, 1...Limits.maximumBatchSize, "--batch-size")
        try RenderTarget.checkFramesPerSecond(fps)
        // The library is merged into (--replace governs its names); the other files are outputs.
        try files.check([npy.map { ($0, "--npy file") }, grid.map { ($0, "--grid picture") }, gif.map { ($0, "--gif animation") },
                         grid.map { (Recipe.url(besides: URL(fileURLWithPath: $0)).path, "recipe of the grid") },
                         gif.map { (Recipe.url(besides: URL(fileURLWithPath: $0)).path, "recipe of the GIF") }].compactMap { $0 })
        guard steps >= 2, steps <= 64 else { throw ValidationError("--steps must be 2 to 64") }
        if let samples, !(2...GANSpace.maxSamples).contains(samples) {
            throw ValidationError("--samples must be 2 to \(GANSpace.maxSamples)")
        }
        if method != .ganspace && (samples != nil || layer != nil) {
            throw ValidationError("--samples and --layer belong to --method ganspace")
        }
        let boundaryOptions = [with, without, labelled, attribute, condition].contains { $0 != nil }
        if method != .boundary && boundaryOptions {
            throw ValidationError("--with, --without, --labelled, --attribute and --condition belong to --method boundary")
        }
        if method == .boundary {
            let fromSources = with != nil || without != nil
            guard fromSources != (labelled != nil) else {
                throw ValidationError("--method boundary: give --with and --without, or --labelled FILE with --attribute NAME")
            }
            if fromSources && (with == nil || without == nil) { throw ValidationError("give both --with and --without") }
            if labelled != nil && attribute == nil { throw ValidationError("--labelled needs --attribute NAME") }
        }
        if let name { try VectorLibrary.checkName(method == .boundary ? name : name + "-0") }
    }

    func run() throws {
        let session = try Session(target, latentOptions)
        let top = self.top ?? min(10, session.size)
        guard top <= session.size else {
            throw UserError("--top \(top): '\(session.model.manifest.name)' has a latent of \(session.size) values, "
                            + "so it has at most \(session.size) directions")
        }
        // Everything the outputs need is read and checked before any work or writing.
        let libraryURL = URL(fileURLWithPath: output)
        var library = try VectorLibrary.readOrEmpty(libraryURL)
        let bases = (grid != nil || gif != nil) ? try session.latents(base, option: "--base") : []
        let strengthValues = Sweep.evenlySpaced(try parseRange(strengths, option: "--strengths"), steps: steps)
        let renders = [grid, gif].compactMap { $0 }.map {
            RenderTarget(output: $0, scale: scale, batchSize: batchSize, quiet: quiet, noLabels: false,
                         framesPerSecond: fps, dither: !noDither)
        }

        let prefix = name ?? method.rawValue
        let firstName = method == .boundary ? prefix : prefix + "-0"
        if !replace && library.vectors[firstName] != nil {    // before the work, not only after it
            throw UserError("-o \(output) already has a vector named '\(firstName)'; add --replace to overwrite, or pick other names with --name")
        }
        let found = try discover(session, library: library)
        if !replace, let taken = found.first(where: { library.vectors[$0.name] != nil }) {
            throw UserError("-o \(output) already has a vector named '\(taken.name)'; add --replace to overwrite, or pick other names with --name")
        }
        if replace && method != .boundary {
            for key in library.vectors.keys where key.hasPrefix(prefix + "-") && Int(key.dropFirst(prefix.count + 1)) != nil {
                library.vectors[key] = nil
            }
        }
        let sources = [(["forger"] + CommandLineRecord.arguments).joined(separator: " "), detail(found)]
        for (entryName, entry) in Directions.entries(found, model: session.model.manifest.name,
                                                     modelHash: session.model.weightsHash, sources: sources) {
            try library.replace(entryName, entry)
        }
        let shown = Array(found.prefix(top))
        let plans = try renders.map { render -> (RenderPlan, RenderTarget) in
            (try plan(shown, bases: bases, strengths: strengthValues, session: session, render: render), render)
        }

        for (plan, render) in plans {
            try session.finish(plan, render, settings: settings())
        }
        if let npy { try Directions.writeNPY(found, to: URL(fileURLWithPath: npy)) }
        try library.write(to: libraryURL)
        if !quiet { report(found) }
    }

    /// The directions of the chosen method, most important first.
    func discover(_ session: Session, library: VectorLibrary) throws -> [DiscoveredDirection] {
        let model = session.model, modelName = model.manifest.name
        switch method {
        case .sefa:
            return try Directions.sefa(model.generator, modelName: modelName, prior: session.prior,
                                       truncation: session.truncation, prefix: name ?? "sefa")
        case .ganspace:
            let request = Directions.GANSpaceRequest(layer: layer, samples: samples ?? 10_000, seed: seed, prior: session.prior,
                                                     truncation: session.truncation, label: session.label, batchSize: batchSize)
            let progress: ProgressReporter = quiet ? SilentProgress() : TerminalProgress()
            progress.start(total: request.samples, label: "ganspace")
            var done = 0
            defer { progress.finish() }
            return try Directions.ganspace(model.generator, modelName: modelName, request: request, prefix: name ?? "ganspace") { now in
                progress.advance(by: now - done)
                done = now
            }
        case .boundary:
            let positive: [[Float]], negative: [[Float]]
            if let with, let without {
                positive = try session.latents(with, option: "--with").map(\.vector)
                negative = try session.latents(without, option: "--without").map(\.vector)
            } else {
                let entries = try LatentIO.load(URL(fileURLWithPath: labelled!), expectedSize: session.size)
                let labels = try labelRows(entries, attributes: [attribute!], file: labelled!).map { $0[0] }
                positive = zip(entries, labels).filter { $0.1 }.map(\.0.vector)
                negative = zip(entries, labels).filter { !$0.1 }.map(\.0.vector)
                guard !positive.isEmpty, !negative.isEmpty else {
                    throw UserError("--labelled \(labelled!): every latent is labelled \(attribute!)=\(!positive.isEmpty); "
                                    + "a boundary needs latents with and without the attribute")
                }
            }
            let c = try condition.map { try library.vector($0, modelHash: model.weightsHash, size: session.size) }
            return [try Directions.boundary(name: name ?? "boundary", with: positive, without: negative, condition: c,
                                            prior: session.prior, truncation: session.truncation)]
        }
    }

    /// Rows: each base with each shown direction; columns: strengths in sigma.
    func plan(_ shown: [DiscoveredDirection], bases: [NamedLatent], strengths: [Float], session: Session,
              render: RenderTarget) throws -> RenderPlan {
        var rows: [SweepRow] = []
        for b in bases {
            for d in shown {
                rows.append(SweepRow(name: label(d) + (bases.count > 1 ? " \(b.name)" : ""),
                                     latents: Directions.grid(bases: [b.vector], directions: [(d.vector, d.info.sigma)], strengths: strengths)))
            }
        }
        let title = "\(method.rawValue) directions of \(session.model.manifest.name), strength in sigma"
            + (bases.count == 1 ? " from \(bases[0].name)" : "")
        return try rowGridPlan(rows, values: strengths.map(caption), session: session, render: render, title: title)
    }

    /// "sefa-0 12.3", "ganspace-0 21%", "smile acc 0.95"
    func label(_ d: DiscoveredDirection) -> String {
        if let e = d.info.eigenvalue { return d.name + String(format: " %.3g", e) }
        if let r = d.info.varianceRatio { return d.name + String(format: " %.1f%%", 100 * r) }
        if let a = d.info.accuracy { return d.name + String(format: " acc %.2f", a) }
        return d.name
    }

    func settings() -> [String: String] {
        ["method": method.rawValue, "library": output, "npy": npy ?? "", "top": top.map(String.init) ?? "", "strengths": strengths,
         "steps": String(steps), "base": base, "name": name ?? "", "samples": samples.map(String.init) ?? "",
         "layer": layer.map(String.init) ?? "", "seed": String(seed), "with": with ?? "", "without": without ?? "",
         "labelled": labelled ?? "", "attribute": attribute ?? "", "condition": condition ?? ""]
    }

    /// What the directions were computed from, for the library's record.
    func detail(_ found: [DiscoveredDirection]) -> String {
        switch method {
        case .sefa: return "sefa: the first layer's weight"
        case .ganspace:
            return "ganspace: layer \(found.first?.info.layer.map(String.init) ?? "?"), \(samples ?? 10_000) samples from seed \(seed)"
        case .boundary:
            let from = labelled.map { "labelled \($0), attribute \(attribute ?? "")" } ?? "with \(with ?? ""); without \(without ?? "")"
            return "boundary: " + from + (condition.map { "; orthogonal to \($0)" } ?? "")
        }
    }

    func report(_ found: [DiscoveredDirection]) {
        let list = found.prefix(5).map(label).joined(separator: ", ")
        FileHandle.standardError.write(Data("\(found.count) \(method.rawValue) direction\(found.count == 1 ? "" : "s") saved in \(output)\(found.count > 5 ? "; the first 5" : ""): \(list)\n".utf8))
    }
}
