import ArgumentParser
import Foundation
import ModelIO
import NN
import Tensor

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise a model: latent, output, and a table of layers with shapes, parameters and multiply-adds.")

    @OptionGroup var target: ModelArgument

    func run() throws {
        let dir = try ModelCatalog.resolve(target.model)
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent(ModelStore.weightsFile).path) {
            print(Self.report(try ModelStore.load(dir)))
        } else {
            // A manifest alone still has an architecture worth showing.
            print(Self.report(try ModelStore.loadArchitecture(dir)))
        }
    }

    static func report(_ model: LoadedModel) -> String {
        let m = model.manifest, g = model.generator
        var lines: [String] = []
        lines.append("\(m.name)" + (m.description.isEmpty ? "" : " — \(m.description)"))
        lines.append("  directory  \(model.directory.path)")
        lines.append(model.weightsHash.isEmpty ? "  weights    missing (\(ModelStore.weightsFile) not found): architecture only"
                                               : "  weights    sha256 \(model.weightsHash.prefix(16))…")
        lines.append("  latent     \(m.latentSize) values, \(m.distribution.summary), viewed as \(describeShape(g.inputShape))")
        if let c = m.conditioning {
            lines.append("  classes    \(c.classes) (\(c.join.rawValue)); labels: \(c.labels?.joined(separator: ", ") ?? "0..<\(c.classes)")")
        }
        lines.append("  output     \(describeShape(g.outputShape)), range [\(m.outputRange.0), \(m.outputRange.1)]")
        lines.append("")
        var rows: [[String]] = [["#", "layer", "output", "params", "mult-adds"]]
        var input = g.inputShape
        for (i, (layer, shape)) in zip(g.layers, g.shapes).enumerated() {
            rows.append([String(i), describe(m.layers[i]), describeShape(shape),
                         grouped(layer.parameterCount), grouped(layer.multiplyAdds(input: input, output: shape))])
            input = shape
        }
        rows.append(["", "total", "", grouped(g.parameterCount), grouped(g.multiplyAddsPerImage)])
        let widths = (0..<5).map { c in rows.map { $0[c].count }.max()! }
        for (r, row) in rows.enumerated() {
            let cells = row.enumerated().map { c, s in
                c >= 3 ? String(repeating: " ", count: widths[c] - s.count) + s : s + String(repeating: " ", count: widths[c] - s.count)
            }
            lines.append("  " + cells.joined(separator: "  "))
            if r == 0 || r == rows.count - 2 { lines.append("  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        lines.append("")
        lines.append("  \(grouped(g.multiplyAddsPerImage)) multiply-adds per image")
        return lines.joined(separator: "\n")
    }

    static func describe(_ spec: LayerSpec) -> String {
        switch spec {
        case .linear(let i, let o, _, let b): return "linear \(i)->\(o)" + (b == nil ? " no bias" : "")
        case .conv2d(let g, _, let b), .convTranspose2d(let g, _, let b):
            let kind = { if case .conv2d = spec { return "conv2d" } else { return "convT2d" } }()
            let k = g.kernelHeight == g.kernelWidth ? "\(g.kernelHeight)" : "\(g.kernelHeight)x\(g.kernelWidth)"
            let s = g.strideHeight == g.strideWidth ? "\(g.strideHeight)" : "\(g.strideHeight)x\(g.strideWidth)"
            return "\(kind) \(g.inChannels)->\(g.outChannels) k\(k) s\(s) p\(g.padding)" + (b == nil ? " no bias" : "")
        case .upsample(let s): return "upsample x\(s) nearest"
        case .batchNorm(let f, let eps, _, _, _, _): return "batchnorm \(f) eps \(eps)"
        case .reshape(let s): return "reshape \(describeShape(s))"
        case .flatten: return "flatten"
        case .activation(.leakyReLU(let slope)): return "leakyrelu \(slope)"
        case .activation: return spec.typeName
        }
    }
}

/// 104628224 -> "104,628,224"
func grouped(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, ch) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return String(out.reversed())
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models Forger can find (FORGER_MODELS folders, ./Models, the installed or the package's Models).")

    func run() throws {
        for line in try Self.listing(folders: ModelCatalog.searchFolders()) { print(line) }
    }

    /// One line per model found in `folders`; no models at all is an error naming the folders.
    static func listing(folders: [URL]) throws -> [String] {
        let found = ModelCatalog.all(in: folders)
        if found.isEmpty {
            throw UserError("no models found; searched: \(folders.map(\.path).joined(separator: ", ")). "
                            + "Set FORGER_MODELS to a folder of model directories, or install with Tools/setup.sh --prefix DIR")
        }
        let width = found.map(\.name.count).max()!
        return found.map { name, url in
            let pad = String(repeating: " ", count: width - name.count)
            do {
                let (m, _) = try ModelStore.readManifest(url)
                return "\(name)\(pad)  \(m.outputChannels)x\(m.outputHeight)x\(m.outputWidth)  z\(m.latentSize)  \(m.description)  (\(url.path))"
            } catch {
                return "\(name)\(pad)  unreadable: \(error)"
            }
        }
    }
}
