import Foundation
import Safety
import Tensor

/// A named collection of attribute vectors, each tied to the model it was made for:
///
///     { "format": "forger-vectors", "version": 1,
///       "vectors": { "smile": { "model": "celeba-dcgan", "modelHash": "9f2c...", "size": 100,
///                               "vector": [...], "method": "bias-corrected",
///                               "sources": ["labels.json"] } } }
public struct VectorLibrary: Codable, Equatable, Sendable {
    public static let formatName = "forger-vectors"
    public static let currentVersion = 1

    public enum Method: String, Codable, Sendable, CaseIterable {
        case meanDifference = "mean-difference"
        case biasCorrected = "bias-corrected"
        /// Discovered directions (`forger directions`): unit vectors.
        case sefa
        case ganspace
        case boundary
    }

    /// What a discovered direction scored, and its scale: a direction's entry carries one.
    public struct DirectionInfo: Codable, Equatable, Sendable {
        /// 0 for the most important direction of its method.
        public var rank: Int
        /// SeFa: the eigenvalue of W W^T.
        public var eigenvalue: Double?
        /// GANSpace: the share of the activations' variance its component explains.
        public var varianceRatio: Double?
        /// Boundary: the share of its labelled latents on their own side.
        public var accuracy: Double?
        /// The latents' standard deviation along the direction (the prior's for SeFa and
        /// boundaries, the samples' for GANSpace): edits are in units of it.
        public var sigma: Double
        /// GANSpace: the layer (as `forger info` numbers them) whose activations were used.
        public var layer: Int?

        public init(rank: Int, eigenvalue: Double? = nil, varianceRatio: Double? = nil, accuracy: Double? = nil,
                    sigma: Double, layer: Int? = nil) {
            self.rank = rank; self.eigenvalue = eigenvalue; self.varianceRatio = varianceRatio
            self.accuracy = accuracy; self.sigma = sigma; self.layer = layer
        }

        /// The eigenvalue, variance ratio or accuracy, whichever the method has.
        public var score: Double? { eigenvalue ?? varianceRatio ?? accuracy }

        enum CodingKeys: String, CodingKey {
            case rank, eigenvalue, varianceRatio, accuracy, sigma, layer
        }
    }

    public struct Entry: Codable, Equatable, Sendable {
        public var model: String
        public var modelHash: String
        public var size: Int
        public var vector: [Float]
        public var method: Method
        /// Where the vector came from (latent files, label files, expressions), for the record.
        public var sources: [String]
        /// Set for discovered directions, nil for attribute vectors.
        public var direction: DirectionInfo?

        public init(model: String, modelHash: String, vector: [Float], method: Method, sources: [String],
                    direction: DirectionInfo? = nil) {
            self.model = model
            self.modelHash = modelHash
            self.size = vector.count
            self.vector = vector
            self.method = method
            self.sources = sources
            self.direction = direction
        }

        enum CodingKeys: String, CodingKey {
            case model, modelHash, size, vector, method, sources, direction
        }
    }

    public var format: String
    public var version: Int
    public var vectors: [String: Entry]

    enum CodingKeys: String, CodingKey {
        case format, version, vectors
    }

    public init(vectors: [String: Entry] = [:]) {
        self.format = VectorLibrary.formatName
        self.version = VectorLibrary.currentVersion
        self.vectors = vectors
    }

    /// Adds a new vector; throws if the name is taken (use `replace` to overwrite).
    public mutating func add(_ name: String, _ entry: Entry) throws {
        guard vectors[name] == nil else {
            throw LatentError.invalidOption("the library already has a vector named '\(name)'; replace it explicitly or pick another name")
        }
        try VectorLibrary.checkName(name)
        vectors[name] = entry
    }

    /// Adds or overwrites.
    public mutating func replace(_ name: String, _ entry: Entry) throws {
        try VectorLibrary.checkName(name)
        vectors[name] = entry
    }

    /// Names are a letter or '_' followed by letters, digits, '_' or '-' (not ending in '-'),
    /// so that directions can be called `sefa-0`. Latent arithmetic reads a name without '-' as
    /// it is and one with '-' in braces, `{sefa-0}`, since a bare '-' there subtracts.
    public static func checkName(_ name: String) throws {
        let chars = Array(name)
        func ok(_ c: Character, first: Bool) -> Bool {
            c == "_" || (c.isASCII && c.isLetter) || (!first && ((c.isASCII && c.isNumber) || c == "-"))
        }
        guard let f = chars.first, ok(f, first: true), chars.dropFirst().allSatisfy({ ok($0, first: false) }),
              chars.last != "-", name != "mean", name != "seed" else {
            throw LatentError.invalidOption(
                "'\(name)' is not a valid vector name: use a letter or '_' followed by letters, digits, '_' or '-' "
                + "(not ending in '-', not 'mean' or 'seed')")
        }
    }

    public func lookup(_ name: String) throws -> Entry {
        guard let entry = vectors[name] else {
            let names = vectors.keys.sorted().joined(separator: ", ")
            throw LatentError.notFound("no vector named '\(name)' in the library (it has: \(names.isEmpty ? "none" : names))")
        }
        return entry
    }

    /// The vector `name`, checked against the loaded model: throws `modelMismatch` when it was
    /// made for a model with another hash or latent size.
    public func vector(_ name: String, modelHash: String, size: Int) throws -> [Float] {
        let entry = try lookup(name)
        try entry.check(name: name, modelHash: modelHash, size: size)
        return entry.vector
    }

    public func validate(path: String = "<memory>") throws {
        func bad(_ reason: String) -> LatentError { .badFile(path: path, reason: reason) }
        guard format == VectorLibrary.formatName else {
            throw bad("\"format\" is \"\(format)\", expected \"\(VectorLibrary.formatName)\"")
        }
        guard version == VectorLibrary.currentVersion else {
            throw bad("version \(version) is not supported (this Forger reads version \(VectorLibrary.currentVersion))")
        }
        for (name, entry) in vectors.sorted(by: { $0.key < $1.key }) {
            guard entry.vector.count == entry.size else {
                throw bad("vector '\(name)' has \(entry.vector.count) values, but its \"size\" is \(entry.size)")
            }
            guard entry.vector.allSatisfy(\.isFinite) else { throw bad("vector '\(name)' has a non-finite value") }
        }
    }

    public func encoded() throws -> Data {
        try validate()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data, path: String = "<memory>") throws -> VectorLibrary {
        let library: VectorLibrary
        do { library = try JSONDecoder().decode(VectorLibrary.self, from: data) } catch {
            throw LatentError.badFile(path: path, reason: "not a forger-vectors JSON file (\(describe(error)))")
        }
        try library.validate(path: path)
        return library
    }

    public static func read(_ url: URL) throws -> VectorLibrary { try decode(try readData(url), path: url.path) }

    /// The library at `url`, or an empty one if the file does not exist yet.
    public static func readOrEmpty(_ url: URL) throws -> VectorLibrary {
        FileManager.default.fileExists(atPath: url.path) ? try read(url) : VectorLibrary()
    }

    public func write(to url: URL) throws { try AtomicFile.write(try encoded(), to: url) }
}

extension VectorLibrary.Entry {
    /// Throws `LatentError.modelMismatch` unless the entry was made for a model with this hash
    /// and latent size.
    public func check(name: String, modelHash: String, size: Int) throws {
        guard self.size == size, self.modelHash == modelHash else {
            var why: [String] = []
            if self.size != size { why.append("latent size \(self.size), the loaded model's is \(size)") }
            if self.modelHash != modelHash { why.append("model hash \(self.modelHash), the loaded model's is \(modelHash)") }
            throw LatentError.modelMismatch(
                "vector '\(name)' was made for model '\(model)' (\(why.joined(separator: "; "))); "
                + "recompute it with the loaded model")
        }
    }
}
