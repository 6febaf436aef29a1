import Foundation
import Imaging
import Latent
import ModelIO
import NN
import Render
import Tensor
import Training

/// One fuzz target per reader of untrusted input. Each feeds the bytes to the reader exactly as
/// Forger's commands do and ignores what it throws: a refusal is the reader working. Anything
/// else (a trap, a crash, an address-sanitizer report, a hang, a huge allocation) is a finding.
///
/// The same functions serve libFuzzer (`Sources/forger-fuzz`, built by `Tools/fuzz.sh`) and the
/// replay test that runs the committed corpus and every past crash (`Tests/FuzzTargetsTests`).
public enum FuzzTarget: String, CaseIterable, Sendable {
    case modelJSON = "model-json"
    case modelDir = "model-dir"
    case safetensors
    case pytorch
    case npy
    case latents
    case vectors
    case recipe
    case png
    case gif
    case idx
    case pngFolder = "png-folder"
    case expression

    /// Runs the reader on `data`. Never throws: refusals are the expected outcome.
    public func run(_ data: UnsafeRawBufferPointer) {
        let bytes = [UInt8](data)
        switch self {
        case .modelJSON: _ = try? FuzzReaders.manifest(bytes)
        case .modelDir: _ = try? FuzzReaders.modelDirectory(bytes)
        case .safetensors: _ = try? SafeTensors.decode(Data(bytes), path: "fuzz.safetensors")
        case .pytorch: _ = try? PyTorchCheckpoint.read(bytes: bytes, path: "fuzz.pt")
        case .npy: _ = try? NPY.decode(bytes, path: "fuzz.npy")
        case .latents: _ = try? LatentFile.decode(Data(bytes), path: "fuzz.json")
        case .vectors: _ = try? VectorLibrary.decode(Data(bytes), path: "vectors.json")
        case .recipe: _ = try? FuzzReaders.recipe(bytes)
        case .png: _ = try? PNG.decode(bytes)
        case .gif: _ = try? GIF.decode(bytes)
        case .idx: _ = try? FuzzReaders.idx(bytes)
        case .pngFolder: _ = try? FuzzReaders.pngFolder(bytes)
        case .expression: FuzzReaders.expression(bytes)
        }
    }

    public func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { run($0) }
    }
}

/// The readers that need more than one call, or files on disk.
enum FuzzReaders {
    /// A private scratch folder for readers that take paths; one per process, removed when
    /// the process exits normally (a crashing input leaves it for a look).
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("forger-fuzz-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: FuzzReaders.scratch) }
        return url
    }()

    static func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// Largest number of placeholder weights the shape-inference step allocates. Placeholders
    /// are allocated at the sizes a manifest declares (ModelStore.placeholderTensors, as
    /// `forger info` does for a directory without weights), so a manifest declaring huge
    /// layers would exhaust memory there; that is reported, not fuzzed around forever.
    static let maxPlaceholderValues = 1 << 24

    /// `ModelManifest.parse`, then shape inference with placeholder weights.
    static func manifest(_ bytes: [UInt8]) throws -> Generator? {
        let manifest = try ModelManifest.parse(Data(bytes), path: "model.json")
        guard let total = ModelStore.placeholderValueCount(for: manifest), total <= maxPlaceholderValues else { return nil }
        return try ModelStore.build(manifest, tensors: try ModelStore.placeholderTensors(for: manifest),
                                    path: "placeholder weights", manifestPath: "model.json")
    }

    /// The fixed manifest of the model-directory target: the small MLP fixture's, so that the
    /// fuzzed safetensors meets every check of `ModelStore.build` (names, dtypes, shapes,
    /// finiteness) with little to allocate.
    static let fixedManifest: ModelManifest? = try? ModelManifest.parse(Data(FuzzSeeds.mlpManifest.utf8), path: "model.json")

    /// A model directory: the fixed manifest with fuzzed weights.
    static func modelDirectory(_ bytes: [UInt8]) throws -> Generator? {
        guard let manifest = fixedManifest else { preconditionFailure("the fixed manifest does not parse") }
        let tensors = try SafeTensors.decode(Data(bytes), path: "weights.safetensors")
        return try ModelStore.build(manifest, tensors: Dictionary(tensors, uniquingKeysWith: { a, _ in a }),
                                    path: "weights.safetensors", manifestPath: "model.json")
    }

    /// The model recipes are checked against: the MLP fixture's architecture.
    static let recipeModel: LoadedModel? = {
        let dir = scratch.appendingPathComponent("model")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try? Data(FuzzSeeds.mlpManifest.utf8).write(to: dir.appendingPathComponent(ModelStore.manifestFile))
        return try? ModelStore.loadArchitecture(dir)
    }()

    /// `Recipe.read`, then the renderer's checks of its plan (no rendering).
    static func recipe(_ bytes: [UInt8]) throws {
        guard let model = recipeModel else { preconditionFailure("the recipe target's model does not load") }
        let recipe = try Recipe.read(try file("fuzz.recipe.json", bytes))
        try Renderer(model: model, batchSize: 4).validate(recipe.plan)
    }

    /// An IDX file (gzipped or not) read as images, then as labels.
    static func idx(_ bytes: [UInt8]) throws {
        let url = try file("fuzz-idx3-ubyte", bytes)
        _ = try? DatasetLoader.idx(images: url)
        _ = try DatasetLoader.idxLabels(url, imageCount: 1, images: "fuzz")
    }

    /// A folder of PNGs. The input is cut at each PNG signature into files; the byte before the
    /// first signature picks the options: bit 0 puts the files into two class subfolders,
    /// bit 1 resizes to 8x8, bits 2-3 choose 1 or 3 channels or the first image's.
    static func pngFolder(_ bytes: [UInt8]) throws {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var starts: [Int] = []
        var i = 0
        while i + signature.count <= bytes.count {
            if bytes[i] == signature[0], Array(bytes[i..<(i + signature.count)]) == signature {
                starts.append(i); i += signature.count
            } else { i += 1 }
        }
        let flags = starts.first.map { $0 > 0 ? bytes[0] : 0 } ?? (bytes.first ?? 0)
        let folder = scratch.appendingPathComponent("folder")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (k, start) in starts.prefix(8).enumerated() {
            let end = k + 1 < starts.count ? starts[k + 1] : bytes.count
            var dir = folder
            if flags & 1 != 0 {
                dir = folder.appendingPathComponent(k % 2 == 0 ? "a" : "b")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            }
            try Data(bytes[start..<end]).write(to: dir.appendingPathComponent("\(k).png"))
        }
        let channels: Int? = [nil, 1, 3, nil][Int(flags >> 2) & 3]
        _ = try DatasetLoader.folder(folder, size: flags & 2 != 0 ? 8 : nil, channels: channels)
    }

    /// Parses an expression; when it parses, evaluates it, takes its operands and atoms, and
    /// checks that its canonical text parses back to the same expression.
    static func expression(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let e = try? LatentExpression.parse(text) else { return }
        _ = try? e.evaluate { atom in
            if case .seed(let s) = atom { return [Float(s % 7), 1, -1] }
            return [0.5, 0.25, 2]
        }
        _ = e.operands
        _ = e.atoms
        let canonical = e.description
        guard let again = try? LatentExpression.parse(canonical), again == e else {
            preconditionFailure("the canonical text \(canonical) of \(text) does not parse back to the same expression")
        }
    }
}
