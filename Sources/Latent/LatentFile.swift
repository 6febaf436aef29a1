import Foundation
import ModelIO
import Safety
import Tensor

/// A latent with a name: "seed:42", an entry of a .json file, or "file.npy#3". It is also
/// the entry type of `LatentFile`, so what a file holds and what a command passes around are
/// one type.
public struct NamedLatent: Codable, Equatable, Sendable {
    public var name: String
    public var vector: [Float]
    public var labels: [String: Bool]?

    public init(name: String, vector: [Float], labels: [String: Bool]? = nil) {
        self.name = name
        self.vector = vector
        self.labels = labels
    }

    enum CodingKeys: String, CodingKey {
        case name, vector, labels
    }
}

/// Forger's hand-editable latent file:
///
///     { "format": "forger-latents", "version": 1, "model": "mnist-dcgan", "size": 100,
///       "latents": [ { "name": "seven", "vector": [0.1, ...], "labels": { "smile": true } } ] }
///
/// Written pretty-printed with sorted keys, atomically. `model` and `labels` are optional.
public struct LatentFile: Codable, Equatable, Sendable {
    public static let formatName = "forger-latents"
    public static let currentVersion = 1

    /// One entry of `latents`.
    public typealias Entry = NamedLatent

    public var format: String
    public var version: Int
    public var model: String?
    public var size: Int
    public var latents: [Entry]

    enum CodingKeys: String, CodingKey {
        case format, version, model, size, latents
    }

    public init(model: String? = nil, size: Int, latents: [Entry]) {
        self.format = LatentFile.formatName
        self.version = LatentFile.currentVersion
        self.model = model
        self.size = size
        self.latents = latents
    }

    public init(model: String? = nil, size: Int, named: [NamedLatent]) {
        self.init(model: model, size: size,
                  latents: named)
    }

    public var named: [NamedLatent] { latents }

    /// Checks format, version, that every vector has `size` finite values and names are unique.
    /// `path` names the file in messages.
    public func validate(path: String = "<memory>") throws {
        func bad(_ reason: String) -> LatentError { .badFile(path: path, reason: reason) }
        guard format == LatentFile.formatName else {
            throw bad("\"format\" is \"\(format)\", expected \"\(LatentFile.formatName)\"")
        }
        guard version == LatentFile.currentVersion else {
            throw bad("version \(version) is not supported (this Forger reads version \(LatentFile.currentVersion))")
        }
        guard size >= 1 else { throw bad("\"size\" must be at least 1, got \(size)") }
        var seen = Set<String>()
        for (i, entry) in latents.enumerated() {
            guard entry.vector.count == size else {
                throw bad("latent \(i) (\"\(entry.name)\") has \(entry.vector.count) values, but \"size\" is \(size)")
            }
            guard entry.vector.allSatisfy(\.isFinite) else {
                throw bad("latent \(i) (\"\(entry.name)\") has a non-finite value")
            }
            guard seen.insert(entry.name).inserted else {
                throw bad("the name \"\(entry.name)\" is used twice; names must be unique")
            }
        }
    }

    /// Pretty-printed JSON with sorted keys.
    public func encoded() throws -> Data {
        try validate()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data, path: String = "<memory>") throws -> LatentFile {
        let file: LatentFile
        do { file = try JSONDecoder().decode(LatentFile.self, from: data) } catch {
            throw LatentError.badFile(path: path, reason: "not a forger-latents JSON file (\(describe(error)))")
        }
        try file.validate(path: path)
        return file
    }

    public static func read(_ url: URL) throws -> LatentFile {
        try decode(try readData(url), path: url.path)
    }

    /// Writes atomically (a temporary file renamed over the target).
    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(), to: url)
    }
}

func readData(_ url: URL) throws -> Data {
    do { return try Data(contentsOf: url) } catch {
        throw LatentError.badFile(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
    }
}

/// Short text for a DecodingError: what was wrong and at which key.
func describe(_ error: Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func path(_ context: DecodingError.Context) -> String {
        let p = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "" : " at \(p)"
    }
    switch e {
    case let .keyNotFound(key, context): return "missing key \"\(key.stringValue)\"\(path(context))"
    case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
        return context.debugDescription + path(context)
    @unknown default: return "\(e)"
    }
}

/// Reading and writing latents in any of Forger's formats.
public enum LatentIO {
    /// A float32 .npy file (N, Z) as rows; a 1-D array (Z) is one latent.
    public static func readNPY(_ url: URL) throws -> [[Float]] {
        let t: Tensor
        do { t = try NPY.read(url) } catch let e as NPY.Failure {
            throw LatentError.badFile(path: e.path, reason: e.reason)
        }
        switch t.shape.count {
        case 1: return [t.data]
        case 2: return t.latentRows
        default:
            throw LatentError.badFile(path: url.path,
                                      reason: "latents must be a 2-D array (N, size), got shape \(t.shape)")
        }
    }

    /// Writes rows of one size as float32 (N, Z), atomically.
    public static func writeNPY(_ latents: [[Float]], to url: URL) throws {
        guard let size = latents.first?.count, latents.allSatisfy({ $0.count == size }) else {
            throw LatentError.invalidOption("latents to write must be nonempty and of one size")
        }
        try NPY.write(Tensor(latentRows: latents, size: size), to: url)
    }

    /// Loads a .json (`LatentFile`) or .npy file and checks the latent size against the
    /// model's. .npy rows are named "<path>#<row>".
    public static func load(_ url: URL, expectedSize: Int) throws -> [NamedLatent] {
        let named: [NamedLatent]
        let fileSize: Int
        switch url.pathExtension.lowercased() {
        case "json":
            let file = try LatentFile.read(url)
            named = file.named
            fileSize = file.size
        case "npy":
            let rows = try readNPY(url)
            named = rows.enumerated().map { NamedLatent(name: "\(url.relativePath)#\($0.offset)", vector: $0.element) }
            fileSize = rows.first?.count ?? 0
        default:
            throw LatentError.badFile(path: url.path, reason: "unknown latent file type; use .json or .npy")
        }
        guard fileSize == expectedSize else {
            throw LatentError.sizeMismatch(file: url.path, fileSize: fileSize, modelSize: expectedSize)
        }
        return named
    }
}

/// The CLI's ways of naming latents:
///
///     seed:N            the latent of seed N (see LatentSampler)
///     seed:N..M         seeds N through M, both included
///     FILE.json         every latent in a forger-latents file
///     FILE.json#NAME    the latent called NAME
///     FILE.npy          every row of an (N, size) float32 array
///     FILE.npy#ROW      row ROW (0-based)
public enum LatentSource: Equatable, Sendable {
    case seed(UInt64)
    case seeds(ClosedRange<UInt64>)
    case json(path: String, name: String?)
    case npy(path: String, row: Int?)

    public static let acceptedForms = "seed:N, seed:N..M, FILE.json, FILE.json#NAME, FILE.npy, FILE.npy#ROW"

    public static func parse(_ text: String) throws -> LatentSource {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("seed:") {
            let body = t.dropFirst(5)
            if let range = body.range(of: "..") {
                guard let lo = UInt64(body[..<range.lowerBound]), let hi = UInt64(body[range.upperBound...]) else {
                    throw LatentError.unknownSource(text)
                }
                guard lo <= hi else {
                    throw LatentError.invalidOption("seed range \(lo)..\(hi) is empty; write the smaller seed first")
                }
                return .seeds(lo...hi)
            }
            guard let seed = UInt64(body) else { throw LatentError.unknownSource(text) }
            return .seed(seed)
        }
        var path = t, fragment: String?
        if let hash = t.lastIndex(of: "#") {
            path = String(t[..<hash])
            fragment = String(t[t.index(after: hash)...])
            guard !fragment!.isEmpty else { throw LatentError.unknownSource(text) }
        }
        let ext = (path as NSString).pathExtension.lowercased()
        guard (path as NSString).lastPathComponent.count > ext.count + 1 else { throw LatentError.unknownSource(text) }
        switch ext {
        case "json": return .json(path: path, name: fragment)
        case "npy":
            guard let f = fragment else { return .npy(path: path, row: nil) }
            guard let row = Int(f), row >= 0 else {
                throw LatentError.invalidOption("'\(text)': the part after '#' in a .npy source must be a row number (0-based)")
            }
            return .npy(path: path, row: row)
        default: throw LatentError.unknownSource(text)
        }
    }

    /// The named latents this source stands for. Relative paths resolve against `directory`
    /// (default: the current directory). Seeds use `prior` and `truncation`; files are checked
    /// against `size`.
    public func resolve(size: Int, prior: LatentPrior = .normal, truncation: Truncation = .none,
                        directory: URL? = nil) throws -> [NamedLatent] {
        func url(_ path: String) -> URL {
            if path.hasPrefix("/") || directory == nil { return URL(fileURLWithPath: path) }
            return directory!.appendingPathComponent(path)
        }
        switch self {
        case .seed(let s):
            return [NamedLatent(name: "seed:\(s)",
                                vector: LatentSampler.sample(seed: s, size: size, prior: prior, truncation: truncation))]
        case .seeds(let range):
            guard range.upperBound - range.lowerBound < 1_000_000 else {
                throw LatentError.invalidOption("seed range \(range.lowerBound)..\(range.upperBound) holds over a million seeds")
            }
            return range.map {
                NamedLatent(name: "seed:\($0)",
                            vector: LatentSampler.sample(seed: $0, size: size, prior: prior, truncation: truncation))
            }
        case let .json(path, name):
            let all = try LatentIO.load(url(path), expectedSize: size)
            guard let name else { return all }
            guard let hit = all.first(where: { $0.name == name }) else {
                let names = all.prefix(10).map(\.name).joined(separator: ", ")
                throw LatentError.notFound("\(path) has no latent named '\(name)'; it has: \(names)\(all.count > 10 ? ", ..." : "")")
            }
            return [hit]
        case let .npy(path, row):
            let all = try LatentIO.load(url(path), expectedSize: size)
            guard let row else { return all }
            guard row < all.count else {
                throw LatentError.notFound("\(path) has \(all.count) rows (0..<\(all.count)); there is no row \(row)")
            }
            return [all[row]]
        }
    }
}
