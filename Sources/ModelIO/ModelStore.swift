import Foundation
import Safety
import Tensor
import NN

/// A model directory read, validated and compiled into a generator.
public struct LoadedModel: Sendable {
    public let directory: URL
    public let manifest: ModelManifest
    /// The generator exactly as the manifest describes it (batch norm kept as its own layer).
    public let generator: Generator
    /// SHA-256 of `weights.safetensors`, the model's identity in recipes and vector files.
    public let weightsHash: String

    /// The generator with batch norm folded into the layers before it: the fast path.
    public var inferenceGenerator: Generator { generator.foldingBatchNorm() }
}

/// Reads and writes model directories: `model.json` plus `weights.safetensors`.
public enum ModelStore {
    public static let manifestFile = "model.json"
    public static let weightsFile = "weights.safetensors"

    /// Loads and validates a model directory; every refusal names the file, layer and tensor.
    public static func load(_ directory: URL) throws -> LoadedModel {
        let (manifest, manifestURL) = try readManifest(directory)
        let weightsURL = directory.appendingPathComponent(weightsFile)
        let weightsData: Data
        do { weightsData = try Data(contentsOf: weightsURL, options: .mappedIfSafe) } catch {
            throw ModelError.cannotRead(path: weightsURL.path, reason: "no readable \(weightsFile) in \(directory.path)")
        }
        let tensors = try SafeTensors.decode(weightsData, path: weightsURL.path)
        let generator = try build(manifest, tensors: Dictionary(tensors, uniquingKeysWith: { a, _ in a }),
                                  path: weightsURL.path, manifestPath: manifestURL.path)
        return LoadedModel(directory: directory, manifest: manifest, generator: generator,
                           weightsHash: SHA256.hex(weightsData))
    }

    /// The architecture of a model directory whose weights file is absent: the manifest
    /// compiled with placeholder tensors, so shapes and counts can be shown.
    public static func loadArchitecture(_ directory: URL) throws -> LoadedModel {
        let (manifest, manifestURL) = try readManifest(directory)
        let generator = try build(manifest, tensors: try placeholderTensors(for: manifest),
                                  path: "placeholder weights", manifestPath: manifestURL.path)
        return LoadedModel(directory: directory, manifest: manifest, generator: generator, weightsHash: "")
    }

    /// Reads and parses `model.json` of a model directory.
    public static func readManifest(_ directory: URL) throws -> (ModelManifest, URL) {
        let manifestURL = directory.appendingPathComponent(manifestFile)
        let manifestData: Data
        do { manifestData = try Data(contentsOf: manifestURL) } catch {
            throw ModelError.cannotRead(path: manifestURL.path, reason: "no readable \(manifestFile) in \(directory.path)")
        }
        return (try ModelManifest.parse(manifestData, path: manifestURL.path), manifestURL)
    }

    /// Compiles a manifest and its tensors into a generator, checking every tensor and shape.
    public static func build(_ manifest: ModelManifest, tensors: [String: TensorRecord],
                             path: String, manifestPath: String) throws -> Generator {
        func fetch(_ name: String, _ layer: String, _ expected: [Int]) throws -> Tensor {
            guard let record = tensors[name] else { throw ModelError.missingTensor(path: path, layer: layer, tensor: name) }
            guard record.dtype.isFloatingPoint else {
                throw ModelError.integerTensor(path: path, layer: layer, tensor: name, dtype: record.dtype.rawValue)
            }
            guard record.shape == expected else {
                throw ModelError.tensorShape(path: path, layer: layer, tensor: name, expected: expected, actual: record.shape)
            }
            if let bad = record.values.firstIndex(where: { !$0.isFinite }) {
                throw ModelError.nonFinite(path: path, tensor: name, index: bad)
            }
            return record.tensor
        }
        var layers: [Layer] = []
        for (i, spec) in manifest.layers.enumerated() {
            let label = "layer \(i) (\(spec.typeName))"
            switch spec {
            case .linear(let inF, let outF, let w, let b):
                layers.append(.linear(weight: try fetch(w, label, [outF, inF]), bias: try b.map { try fetch($0, label, [outF]) }))
            case .conv2d(let g, let w, let b):
                layers.append(.conv2d(weight: try fetch(w, label, [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth]),
                                      bias: try b.map { try fetch($0, label, [g.outChannels]) }, geometry: g))
            case .convTranspose2d(let g, let w, let b):
                layers.append(.convTranspose2d(weight: try fetch(w, label, [g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth]),
                                               bias: try b.map { try fetch($0, label, [g.outChannels]) }, geometry: g))
            case .upsample(let s): layers.append(.upsampleNearest(scale: s))
            case .batchNorm(let features, let eps, let w, let b, let m, let v):
                let mean = try fetch(m, label, [features]), variance = try fetch(v, label, [features])
                if let bad = variance.data.firstIndex(where: { $0 < 0 }) {
                    throw ModelError.badWeights(path: path, reason: "\(label): running variance '\(v)' is negative at element \(bad)")
                }
                let (scale, shift) = BatchNormInference.affine(
                    gamma: try w.map { try fetch($0, label, [features]) }, beta: try b.map { try fetch($0, label, [features]) },
                    mean: mean, variance: variance, eps: eps)
                layers.append(.batchNorm(scale: scale, shift: shift))
            case .reshape(let shape): layers.append(.reshape(shape))
            case .flatten: layers.append(.flatten)
            case .activation(let a): layers.append(.activation(a))
            }
        }
        var conditioning: Conditioning? = nil
        if let c = manifest.conditioning {
            let embedding: Tensor
            guard let record = tensors[c.embedding] else {
                throw ModelError.missingTensor(path: path, layer: "conditioning", tensor: c.embedding)
            }
            guard record.shape.count == 2, record.shape[0] == c.classes else {
                throw ModelError.tensorShape(path: path, layer: "conditioning", tensor: c.embedding,
                                             expected: [c.classes, record.shape.last ?? 0], actual: record.shape)
            }
            embedding = try fetch(c.embedding, "conditioning", record.shape)
            if c.join == .multiply, record.shape[1] != manifest.latentSize {
                throw ModelError.tensorShape(path: path, layer: "conditioning (multiply)", tensor: c.embedding,
                                             expected: [c.classes, manifest.latentSize], actual: record.shape)
            }
            conditioning = Conditioning(embedding: embedding, join: c.join)
        }
        let generator: Generator
        do {
            generator = try Generator(latentSize: manifest.latentSize, inputShape: manifest.latentShape,
                                      conditioning: conditioning, layers: layers)
        } catch let e as Generator.ShapeError {
            throw ModelError.layersDoNotChain(path: manifestPath, reason: e.description)
        }
        let declared = [manifest.outputChannels, manifest.outputHeight, manifest.outputWidth]
        guard generator.outputShape == declared else {
            throw ModelError.outputMismatch(path: manifestPath, declared: declared, computed: generator.outputShape)
        }
        return generator
    }

    /// The tensors a manifest's layers expect: name, shape, and the value a placeholder holds
    /// (zeros; unit running variance).
    static func placeholderShapes(for manifest: ModelManifest) -> [(name: String, shape: [Int], fill: Float)] {
        var t: [(name: String, shape: [Int], fill: Float)] = []
        func add(_ name: String?, _ shape: [Int], fill: Float = 0) { if let name { t.append((name, shape, fill)) } }
        if let c = manifest.conditioning {
            var joined = manifest.latentShape?.reduce(1, *) ?? manifest.latentSize
            if manifest.latentShape == nil, case .linear(let inFeatures, _, _, _)? = manifest.layers.first { joined = inFeatures }
            add(c.embedding, [c.classes, c.join == .multiply ? manifest.latentSize : max(1, joined - manifest.latentSize)])
        }
        for layer in manifest.layers {
            switch layer {
            case .linear(let i, let o, let w, let b): add(w, [o, i]); add(b, [o])
            case .conv2d(let g, let w, let b): add(w, [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth]); add(b, [g.outChannels])
            case .convTranspose2d(let g, let w, let b): add(w, [g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth]); add(b, [g.outChannels])
            case .batchNorm(let f, _, let w, let b, let m, let v): add(w, [f]); add(b, [f]); add(m, [f]); add(v, [f], fill: 1)
            default: break
            }
        }
        return t
    }

    /// How many values the manifest's tensors hold in all, or nil when that overflows.
    public static func placeholderValueCount(for manifest: ModelManifest) -> Int? {
        var total = 0
        for (_, shape, _) in placeholderShapes(for: manifest) {
            guard let n = Limits.product(shape) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(n)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// Tensors of the shapes a manifest's layers expect, to inspect an architecture whose
    /// weights are not at hand; refused when they would hold more than `Limits.maximumElements`.
    public static func placeholderTensors(for manifest: ModelManifest) throws -> [String: TensorRecord] {
        guard let total = placeholderValueCount(for: manifest), total <= Limits.maximumElements else {
            throw ModelError.badManifest(path: manifest.name, reason: "its layers declare more than \(Limits.maximumElements) weights; "
                                         + "no model of this kind is that large, so the manifest is wrong")
        }
        var t: [String: TensorRecord] = [:]
        for (name, shape, fill) in placeholderShapes(for: manifest) {
            t[name] = TensorRecord(dtype: .f32, shape: shape, values: [Float](repeating: fill, count: shape.reduce(1, *)))
        }
        return t
    }

    /// Writes a model directory atomically: both files go into a temporary sibling directory,
    /// which then replaces `directory`. Tensors are written as float32 in the given order.
    public static func save(_ manifest: ModelManifest, tensors: [(name: String, record: TensorRecord)],
                            to directory: URL) throws {
        let fm = FileManager.default
        let parent = directory.deletingLastPathComponent()
        guard fm.fileExists(atPath: parent.path) else {
            throw ModelError.cannotWrite(path: directory.path, reason: "folder \(parent.path) does not exist; create it first")
        }
        let staging = parent.appendingPathComponent(".\(directory.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        TemporaryFiles.register(staging.path)
        defer { TemporaryFiles.unregister(staging.path) }
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
            try Data(JSONWriter.pretty(manifest.json).utf8).write(to: staging.appendingPathComponent(manifestFile))
            try SafeTensors.encode(tensors).write(to: staging.appendingPathComponent(weightsFile))
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: directory.path, isDirectory: &isDir) {
                guard isDir.boolValue else {
                    throw ModelError.cannotWrite(path: directory.path, reason: "a file is in the way; choose another output path")
                }
                // Keep files of the old directory that are not ours (model card, samples).
                for item in try fm.contentsOfDirectory(atPath: directory.path)
                where item != manifestFile && item != weightsFile && !fm.fileExists(atPath: staging.appendingPathComponent(item).path) {
                    try fm.copyItem(at: directory.appendingPathComponent(item), to: staging.appendingPathComponent(item))
                }
                let old = parent.appendingPathComponent(".\(directory.lastPathComponent).old-\(getpid())")
                try fm.moveItem(at: directory, to: old)
                try fm.moveItem(at: staging, to: directory)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: staging, to: directory)
            }
        } catch let e as ModelError {
            try? fm.removeItem(at: staging)
            throw e
        } catch {
            try? fm.removeItem(at: staging)
            throw ModelError.cannotWrite(path: directory.path, reason: error.localizedDescription)
        }
    }
}

/// Finds models by name: in each folder of `FORGER_MODELS` (colon-separated), in `./Models`,
/// in `<prefix>/share/forger/models` of an installed `<prefix>/bin/forger`, and in the
/// `Models` folder of the Forger package the executable was built from.
public enum ModelCatalog {
    public static func searchFolders(environment: [String: String] = ProcessInfo.processInfo.environment,
                                     executable: URL? = Bundle.main.executableURL) -> [URL] {
        var folders: [URL] = []
        if let list = environment["FORGER_MODELS"] {
            folders += list.split(separator: ":").map { URL(fileURLWithPath: String($0)) }
        }
        folders.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Models"))
        let binary = executable?.resolvingSymlinksInPath().deletingLastPathComponent()
        // <prefix>/bin/forger -> <prefix>/share/forger/models (Tools/setup.sh --prefix).
        if let binary {
            let installed = binary.deletingLastPathComponent().appendingPathComponent("share/forger/models")
            if FileManager.default.fileExists(atPath: installed.path) { folders.append(installed) }
        }
        // .build/<config>/forger -> package root is a few levels up.
        var dir = binary
        for _ in 0..<5 {
            guard let d = dir else { break }
            if FileManager.default.fileExists(atPath: d.appendingPathComponent("Package.swift").path) {
                folders.append(d.appendingPathComponent("Models"))
                break
            }
            dir = d.deletingLastPathComponent()
        }
        var seen = Set<String>()
        return folders.filter { seen.insert($0.standardizedFileURL.path).inserted }
    }

    /// Every model directory (a folder with a model.json) in the search folders: (name, url).
    public static func all(in folders: [URL] = searchFolders()) -> [(name: String, url: URL)] {
        var found: [(String, URL)] = []
        for folder in folders {
            guard let items = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { continue }
            for item in items.sorted() where !item.hasPrefix(".") {
                let url = folder.appendingPathComponent(item)
                if FileManager.default.fileExists(atPath: url.appendingPathComponent(ModelStore.manifestFile).path) {
                    found.append((item, url))
                }
            }
        }
        return found
    }

    /// A path to a model directory, or a name found in the search folders.
    public static func resolve(_ nameOrPath: String, folders: [URL] = searchFolders()) throws -> URL {
        let direct = URL(fileURLWithPath: nameOrPath)
        if FileManager.default.fileExists(atPath: direct.appendingPathComponent(ModelStore.manifestFile).path) {
            return direct
        }
        if let hit = all(in: folders).first(where: { $0.name == nameOrPath }) { return hit.url }
        throw ModelError.notFound(name: nameOrPath, searched: folders.map(\.path))
    }
}
