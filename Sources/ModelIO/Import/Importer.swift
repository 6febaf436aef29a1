import Foundation
import NN
import Tensor

/// Where an imported model's architecture comes from.
public enum ArchitectureSource: Equatable, Sendable {
    /// A Forger `model.json` whose layers name the checkpoint's tensors.
    case spec(URL)
    case dcgan(DCGANPreset)
    case mlp(MLPPreset)

    var summary: String {
        switch self {
        case .spec(let url): return "spec \(url.lastPathComponent)"
        case .dcgan: return "preset dcgan"
        case .mlp: return "preset mlp"
        }
    }
}

/// Everything `forger import` needs: the file, how to read it, the architecture, and what
/// to record about the latent and the output.
public struct ImportRequest: Sendable {
    public var checkpoint: URL
    public var key: String?
    public var renames: [TensorRename]
    public var architecture: ArchitectureSource
    public var name: String?
    public var description: String?
    public var prior: LatentDistribution?
    public var outputRange: (Float, Float)?

    public init(checkpoint: URL, key: String? = nil, renames: [TensorRename] = [], architecture: ArchitectureSource,
                name: String? = nil, description: String? = nil, prior: LatentDistribution? = nil,
                outputRange: (Float, Float)? = nil) {
        self.checkpoint = checkpoint; self.key = key; self.renames = renames; self.architecture = architecture
        self.name = name; self.description = description; self.prior = prior; self.outputRange = outputRange
    }
}

/// An import checked from end to end and ready to be written.
public struct PreparedImport: Sendable {
    public var manifest: ModelManifest
    /// The referenced tensors only, float32, in layer order.
    public var tensors: [(name: String, record: TensorRecord)]
    /// The compiled generator (the same one `ModelStore.load` will build).
    public var generator: Generator
    public var source: SourceCheckpoint
    /// Tensors of the checkpoint that no layer uses (integer counters are not listed).
    public var unused: [String]
}

/// Turns a foreign checkpoint plus an architecture into a Forger model directory.
public enum ModelImporter {
    /// Reads, maps and checks everything; writes nothing.
    public static func prepare(_ request: ImportRequest) throws -> PreparedImport {
        let source = try SourceCheckpoint.read(request.checkpoint, key: request.key).renamed(request.renames)
        let file = request.checkpoint.path
        let tensors = source.byName
        var manifest: ModelManifest
        var manifestPath = file
        switch request.architecture {
        case .spec(let url):
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw ImportError(url.path, "the architecture spec cannot be read (\(error.localizedDescription))",
                                  hint: "Pass a Forger model.json with --arch, or use --preset dcgan|mlp.")
            }
            manifest = try ModelManifest.parse(data, path: url.path)
            manifestPath = url.path
        case .dcgan(let preset): manifest = try preset.manifest(for: tensors, file: file)
        case .mlp(let preset): manifest = try preset.manifest(for: tensors, file: file)
        }
        if let name = request.name { manifest.name = name }
        else if case .spec = request.architecture {} else {
            manifest.name = request.checkpoint.deletingPathExtension().lastPathComponent
        }
        if let d = request.description { manifest.description = d }
        if let p = request.prior { manifest.distribution = p }
        if let r = request.outputRange { manifest.outputRange = r }

        // Every referenced tensor, shape, dtype and the layer chain are checked here.
        let generator = try ModelStore.build(manifest, tensors: tensors, path: file, manifestPath: manifestPath)

        var seen = Set<String>()
        let referenced = manifest.referencedTensors.filter { seen.insert($0).inserted }
        let written = referenced.map { name -> (name: String, record: TensorRecord) in
            let r = tensors[name]!
            return (name, TensorRecord(dtype: .f32, shape: r.shape, values: r.values))
        }
        let unused = source.tensors.filter { !seen.contains($0.name) && $0.record.dtype.isFloatingPoint }.map(\.name)

        var record: [String: JSONValue] = [
            "imported_from": .string(request.checkpoint.lastPathComponent),
            "sha256": .string(source.sha256),
            "format": .string(source.format.rawValue),
            "architecture": .string(request.architecture.summary),
            "tool": .string("forger import"),
        ]
        if let key = request.key { record["key"] = .string(key) }
        if !request.renames.isEmpty {
            record["renames"] = .array(request.renames.map { .string("\($0.prefix)=\($0.replacement)") })
        }
        if let previous = manifest.training { record["spec_training"] = previous }
        manifest.training = .object(record)
        return PreparedImport(manifest: manifest, tensors: written, generator: generator, source: source, unused: unused)
    }

    /// Prepares the import, then writes the model directory in one step: on any failure
    /// nothing is left at `directory`. An existing directory is refused unless `replace`.
    @discardableResult
    public static func run(_ request: ImportRequest, to directory: URL, replace: Bool = false) throws -> PreparedImport {
        try checkDestination(directory, replace: replace)
        let prepared = try prepare(request)
        try ModelStore.save(prepared.manifest, tensors: prepared.tensors, to: directory)
        return prepared
    }

    static func checkDestination(_ directory: URL, replace: Bool) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir) else { return }
        guard isDir.boolValue else {
            throw ImportError(directory.path, "a file is in the way of the model directory", hint: "Choose another -o path.")
        }
        let items = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        if !items.isEmpty && !replace {
            throw ImportError(directory.path, "the folder already exists and is not empty",
                              hint: "Choose another -o path, or add --force to replace its model.json and weights.safetensors.")
        }
    }
}

// MARK: - Option values

extension LatentDistribution {
    /// `normal` or `uniform:LOW:HIGH` (e.g. `uniform:-1:1`).
    public init(argument: String) throws {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        if argument == "normal" { self = .normal; return }
        if parts.count == 3, parts[0] == "uniform", let lo = Float(parts[1]), let hi = Float(parts[2]), lo < hi {
            self = .uniform(low: lo, high: hi); return
        }
        throw ImportError("--prior '\(argument)'", "not a latent prior", hint: "Write normal or uniform:LOW:HIGH, e.g. uniform:-1:1.")
    }
}

/// `-1:1` or `0:1` -> the output range.
/// `-1..1` -> (-1, 1): the range a model's outputs span (LOW..HIGH, as every range option is written).
public func parseOutputRange(_ argument: String) throws -> (Float, Float) {
    let parts = argument.components(separatedBy: "..")
    guard parts.count == 2, let lo = Float(parts[0]), let hi = Float(parts[1]), lo.isFinite, hi.isFinite, lo < hi else {
        throw ImportError("--output-range '\(argument)'", "not an output range", hint: "Write LOW..HIGH: -1..1 for tanh, 0..1 for sigmoid.")
    }
    return (lo, hi)
}

/// `relu`, `leakyrelu:0.2` (or `leakyrelu`, slope 0.01), `tanh`, `sigmoid`, `identity`.
public func parseActivation(_ argument: String, option: String) throws -> ActivationKind {
    let parts = argument.lowercased().split(separator: ":")
    switch (parts.first.map(String.init), parts.count) {
    case ("relu", 1): return .relu
    case ("tanh", 1): return .tanh
    case ("sigmoid", 1): return .sigmoid
    case ("identity", 1), ("none", 1): return .identity
    case ("leakyrelu", 1): return .leakyReLU(slope: 0.01)
    case ("leakyrelu", 2):
        if let s = Float(parts[1]), s.isFinite { return .leakyReLU(slope: s) }
    default: break
    }
    throw ImportError("\(option) '\(argument)'", "not an activation", hint: "Use relu, leakyrelu:SLOPE (e.g. leakyrelu:0.2), tanh, sigmoid or identity.")
}
