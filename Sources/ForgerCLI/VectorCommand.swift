import ArgumentParser
import Foundation
import Latent
import Render
import Safety
import Tensor

struct VectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vector",
        abstract: "Make, list and apply attribute vectors (stored by name in a vector library file).",
        subcommands: [Make.self, Apply.self, List.self])

    struct Library: ParsableArguments {
        @Option(help: "The vector library file (JSON), kept beside your work.")
        var library = "vectors.json"
        var url: URL { URL(fileURLWithPath: library) }
    }

    struct Make: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a vector from examples: mean(with) - mean(without), or bias-corrected from a labelled latents file.",
            discussion: """
            From sources: --with seed:3,seed:17 --without seed:5,seed:9 (plain mean difference). \
            From a labelled latents file (entries with "labels": {"smiling": true, "female": false}): \
            --labelled picks.json --attribute smiling; add --control female,glasses for the \
            bias-corrected form, which balances every combination of the attributes so that \
            correlated ones do not leak into the vector.
            """)

        @OptionGroup var target: ModelArgument
        @Argument(help: "The vector's name.") var name: String
        @Option(help: "Latents that have the attribute (sources, comma-separated).") var with: String?
        @Option(help: "Latents that lack it.") var without: String?
        @Option(help: "A latents .json whose entries carry labels.") var labelled: String?
        @Option(help: "With --labelled: the attribute to make a vector for.") var attribute: String?
        @Option(help: "With --labelled: other labelled attributes to balance against (bias-corrected).") var control: String?
        @Flag(help: "Overwrite a vector of the same name.") var replace = false
        @OptionGroup var library: Library
        @OptionGroup var latentOptions: LatentOptions

        func validate() throws {
            let fromSources = with != nil || without != nil
            guard fromSources != (labelled != nil) else {
                throw ValidationError("give --with and --without, or --labelled with --attribute")
            }
            if fromSources && (with == nil || without == nil) { throw ValidationError("give both --with and --without") }
            if labelled != nil && attribute == nil { throw ValidationError("--labelled needs --attribute NAME") }
        }

        func run() throws {
            let session = try Session(target, latentOptions)
            let vector: [Float], method: VectorLibrary.Method, sources: [String]
            if let with, let without {
                let a = try session.latents(with, option: "--with"), b = try session.latents(without, option: "--without")
                vector = try AttributeVectors.meanDifference(with: a.map(\.vector), without: b.map(\.vector))
                method = .meanDifference
                sources = a.map(\.name).map { "with " + $0 } + b.map(\.name).map { "without " + $0 }
            } else {
                let entries = try LatentIO.load(URL(fileURLWithPath: labelled!), expectedSize: session.size)
                let attributes = [attribute!] + (control?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? [])
                let labels = try labelRows(entries, attributes: attributes, file: labelled!)
                let result = try AttributeVectors.biasCorrected(latents: entries.map(\.vector), labels: labels, attribute: 0)
                vector = result.vector
                method = attributes.count > 1 ? .biasCorrected : .meanDifference
                sources = [labelled!, "attribute \(attribute!)"] + (control.map { ["balanced against \($0)"] } ?? [])
            }
            var lib = try VectorLibrary.readOrEmpty(library.url)
            let entry = VectorLibrary.Entry(model: session.model.manifest.name, modelHash: session.model.weightsHash,
                                            vector: vector, method: method, sources: sources)
            if replace { try lib.replace(name, entry) } else { try lib.add(name, entry) }
            try lib.write(to: library.url)
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            print("\(name): \(method.rawValue), norm \(caption(norm)), saved in \(library.library)")
        }
    }

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a latent moved along a vector: z + s v for each strength s.")

        @OptionGroup var target: ModelArgument
        @Argument(help: "The vector's name in the library.") var name: String
        @Option(help: "The latent to move (a latent source).") var to = "seed:0"
        @Option(parsing: .unconditional, help: "Strengths as LOW..HIGH, e.g. -3..3.") var strengths = "-3..3"
        @Option(help: "Number of strengths, 2 to \(SweepCommand.maximumSteps).") var steps = 7
        @OptionGroup var library: Library
        @OptionGroup var latentOptions: LatentOptions
        @OptionGroup var render: RenderOptions

        func validate() throws { try Limits.check(steps, 2...SweepCommand.maximumSteps, "--steps") }

        func run() throws {
            let session = try Session(target, latentOptions)
            let lib = try VectorLibrary.read(library.url)
            let v = try lib.vector(name, modelHash: session.model.weightsHash, size: session.size)
            let base = try session.latent(to, option: "--to")
            let ss = Sweep.evenlySpaced(try parseRange(strengths, option: "--strengths"), steps: steps)
            let latents = ss.map { AttributeVectors.apply(base.vector, vector: v, strength: $0) }
            let labels = ss.map { "\(name) \(caption($0))" }
            let plan: RenderPlan
            switch try render.format {
            case .png:
                plan = RenderPlan(format: .png, latents: latents, labels: session.labels(latents.count),
                                  frames: [.init(tiles: latents.indices.map { $0 })],
                                  layout: .init(columns: steps, scale: session.scale(render.target), tileLabels: labels,
                                                title: "\(base.name) + s * \(name)"))
            case .gif:
                let order = pingPong(steps)
                plan = RenderPlan(format: .gif, latents: latents, labels: session.labels(latents.count),
                                  frames: order.map { .init(tiles: [$0], caption: labels[$0]) },
                                  layout: .init(columns: 1, scale: session.scale(render.target)), gif: session.gifSettings(render.target))
            }
            try session.finish(plan, render.target, settings: [
                "name": name, "to": to, "strengths": strengths, "steps": String(steps), "library": library.library])
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the vectors in a library.")
        @OptionGroup var library: Library

        func run() throws {
            let lib = try VectorLibrary.read(library.url)
            for (name, e) in lib.vectors.sorted(by: { $0.key < $1.key }) {
                let scored = e.direction.map { d in "  rank \(d.rank)" + (d.score.map { String(format: " score %.4g", $0) } ?? "") } ?? ""
                print("\(name)  \(e.method.rawValue)\(scored)  model \(e.model) (\(e.modelHash.prefix(12))…)  size \(e.size)  from \(e.sources.joined(separator: "; "))")
            }
        }
    }
}

/// One row of true/false per entry of a labelled latents file, one column per attribute.
func labelRows(_ entries: [NamedLatent], attributes: [String], file: String) throws -> [[Bool]] {
    try entries.map { e in
        try attributes.map { key in
            guard let v = e.labels?[key] else {
                throw UserError("--labelled \(file): latent '\(e.name)' has no label '\(key)'; every entry needs a true/false for each attribute")
            }
            return v
        }
    }
}

struct Arith: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Latent arithmetic, rendered as the DCGAN paper's figure.",
        discussion: """
        Expressions use +, -, scalar * and /, parentheses and mean(...), over seeds (seed:N), \
        named latents from --latents and vectors from --library, e.g. \
        "mean(seed:1,seed:2,seed:3) - mean(seed:4,seed:5,seed:6) + mean(seed:7,seed:8,seed:9)". \
        Each operand gets a row: its exemplars and their mean. The last row shows the result and \
        a few neighbours (the result plus small noise), since single vectors are unstable.
        """)

    @OptionGroup var target: ModelArgument
    @Argument(help: "The expression (quote it).") var expression: String
    @Option(help: "A latents .json whose names can be used in the expression.") var latents: String?
    @OptionGroup var library: VectorCommand.Library
    @Option(help: "Neighbours of the result to show, 0 to \(SweepCommand.maximumSteps).") var neighbours = 4
    @Option(help: "Standard deviation of the neighbours' noise, relative to the prior's (default 0.25).") var noise: Float?
    @Option(help: "Seed of the neighbours' noise (default 0).") var noiseSeed: UInt64?
    @OptionGroup var latentOptions: LatentOptions
    @OptionGroup var render: PictureOptions

    func validate() throws {
        try render.requirePNG("the arithmetic figure")
        try Limits.check(neighbours, 0...SweepCommand.maximumSteps, "--neighbours")
        if let noise { guard noise >= 0, noise.isFinite else { throw ValidationError("--noise must be 0 or more") } }
        if neighbours == 0, noise != nil || noiseSeed != nil {
            throw ValidationError("--noise and --noise-seed make the neighbours of the result; with --neighbours 0 there are none")
        }
    }

    func run() throws {
        let session = try Session(target, latentOptions)
        let parsed: LatentExpression
        do { parsed = try LatentExpression.parse(expression) } catch let e as ExpressionError { throw UserError("\(e)") }
        let named = try latents.map { try LatentIO.load(URL(fileURLWithPath: $0), expectedSize: session.size) } ?? []
        let vectors = FileManager.default.fileExists(atPath: library.url.path) ? try VectorLibrary.read(library.url) : nil
        func resolve(_ atom: LatentAtom) throws -> [Float] {
            switch atom {
            case .seed(let s): return LatentSampler.sample(seed: s, size: session.size, prior: session.prior, truncation: session.truncation)
            case .name(let n):
                if let hit = named.first(where: { $0.name == n }) { return hit.vector }
                if let vectors, vectors.vectors[n] != nil {
                    return try vectors.vector(n, modelHash: session.model.weightsHash, size: session.size)
                }
                throw UserError("'\(n)' is neither a latent in --latents nor a vector in \(library.library)")
            }
        }
        let result = try parsed.evaluate(resolve)
        var all: [[Float]] = [], tiles: [Int?] = [], rowCaptions: [String] = []
        let operands = parsed.operands
        let width = max(neighbours + 1, (operands.map { $0.exemplars.count + ($0.exemplars.count > 1 ? 1 : 0) }.max() ?? 1))
        func add(_ v: [Float]) -> Int { all.append(v); return all.count - 1 }
        for op in operands {
            var row: [Int?] = try op.exemplars.map { add(try $0.evaluate(resolve)) }
            if op.exemplars.count > 1 { row.append(add(try op.term.evaluate(resolve))) }
            tiles += row + [Int?](repeating: nil, count: width - row.count)
            let sign = op.coefficient < 0 ? "-" : "+"
            let k = abs(op.coefficient) == 1 ? "" : "\(caption(Float(abs(op.coefficient)))) * "
            rowCaptions.append("\(sign) \(k)\(op.term)")
        }
        var rng = SplitMix64(seed: noiseSeed ?? 0)
        let sigma = (noise ?? 0.25) * (session.prior.spread.upperBound - session.prior.spread.lowerBound) / 6
        var row: [Int?] = [add(result)]
        for _ in 0..<neighbours { row.append(add(result.map { $0 + sigma * Float(rng.nextNormal()) })) }
        tiles += row + [Int?](repeating: nil, count: width - row.count)
        rowCaptions.append("= result")
        let plan = RenderPlan(format: .png, latents: all, labels: session.labels(all.count), frames: [.init(tiles: tiles)],
                              layout: .init(columns: width, scale: session.scale(render.target), rowCaptions: rowCaptions,
                                            title: parsed.description))
        try session.finish(plan, render.target, settings: [
            "expression": expression, "latents": latents ?? "", "library": library.library,
            "neighbours": String(neighbours), "noise": String(noise ?? 0.25), "noise-seed": String(noiseSeed ?? 0)])
    }
}
