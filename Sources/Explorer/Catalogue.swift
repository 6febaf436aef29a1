import Foundation
import Latent
import ModelIO
import Render

/// One model as the explorer serves it: loaded once at start and shared by every request
/// (a `LoadedModel` is immutable, and a render only reads it).
public final class ExplorerModel: @unchecked Sendable {
    public let name: String
    public let loaded: LoadedModel
    public let renderer: Renderer
    public let prior: LatentPrior
    /// The sliders' directions, most important first: from `<model>/directions.json` when it
    /// holds directions made for these weights, else SeFa computed at load.
    public let directions: [Direction]
    /// Where the directions came from: `directions.json` or `sefa`.
    public let directionSource: String
    /// Vector library files in the model directory, by file name.
    public let directionFiles: [String]

    public struct Direction: Codable, Equatable, Sendable {
        public var name: String
        public var score: Double?
        /// The prior's spread along the direction: a slider's unit.
        public var sigma: Double
        /// Unit (Z).
        public var vector: [Float]
    }

    /// The file a model directory's directions are read from.
    public static let directionsFile = "directions.json"
    /// Directions offered as sliders.
    public static let maximumDirections = 12

    public init(name: String, directory: URL) throws {
        let loaded = try ModelStore.load(directory)
        self.name = name
        self.loaded = loaded
        renderer = Renderer(model: loaded)
        prior = LatentPrior(loaded.manifest.distribution)
        let file = directory.appendingPathComponent(Self.directionsFile)
        var fromFile: [Direction] = []
        if FileManager.default.fileExists(atPath: file.path) {
            // A library made for other weights (or unreadable) is skipped, not fatal: SeFa stands in.
            if let library = try? VectorLibrary.read(file) {
                fromFile = library.vectors
                    .compactMap { name, entry -> (Int, Direction)? in
                        guard let info = entry.direction, entry.modelHash == loaded.weightsHash,
                              entry.vector.count == loaded.manifest.latentSize else { return nil }
                        return (info.rank, Direction(name: name, score: info.score, sigma: info.sigma, vector: entry.vector))
                    }
                    .sorted { ($0.0, $0.1.name) < ($1.0, $1.1.name) }
                    .map(\.1)
            }
            directionFiles = [Self.directionsFile]
        } else {
            directionFiles = []
        }
        if fromFile.isEmpty {
            let found = (try? Directions.sefa(loaded.generator, modelName: loaded.manifest.name, prior: prior)) ?? []
            directions = Array(found.prefix(Self.maximumDirections)).map {
                Direction(name: $0.name, score: $0.info.score, sigma: $0.info.sigma, vector: $0.vector)
            }
            directionSource = found.isEmpty ? "none" : "sefa"
        } else {
            directions = Array(fromFile.prefix(Self.maximumDirections))
            directionSource = Self.directionsFile
        }
    }

    public var latentSize: Int { loaded.manifest.latentSize }
    public var classes: Int? { loaded.manifest.conditioning?.classes }
}

/// The models a server offers, by name. Clients name a model; they never give a path.
public struct Catalogue: Sendable {
    public let models: [String: ExplorerModel]
    public var names: [String] { models.keys.sorted() }

    public init(_ models: [ExplorerModel]) { self.models = Dictionary(models.map { ($0.name, $0) }) { a, _ in a } }

    /// Loads every model in `folders`: each folder is a model directory itself (it has a
    /// model.json) or holds model directories; none given means the CLI's search folders.
    public static func load(folders: [URL], log: (String) -> Void = { _ in }) throws -> Catalogue {
        var found: [(name: String, url: URL)] = []
        if folders.isEmpty {
            found = ModelCatalog.all()
        } else {
            for folder in folders {
                if FileManager.default.fileExists(atPath: folder.appendingPathComponent(ModelStore.manifestFile).path) {
                    found.append((folder.standardizedFileURL.lastPathComponent, folder))
                } else {
                    let inside = ModelCatalog.all(in: [folder])
                    guard !inside.isEmpty else { throw ExplorerError(.notFound, "--models \(folder.path): no model directory (a folder with model.json) there") }
                    found += inside
                }
            }
        }
        var models: [ExplorerModel] = []
        var seen = Set<String>()
        for (name, url) in found where seen.insert(name).inserted {
            let started = Date()
            let model = try ExplorerModel(name: name, directory: url)
            log(String(format: "loaded %@ (%@, %d directions) in %.2f s", name, model.directionSource, model.directions.count,
                       Date().timeIntervalSince(started)))
            models.append(model)
        }
        guard !models.isEmpty else { throw ExplorerError(.notFound, "no models found; give --models DIR") }
        return Catalogue(models)
    }

    /// The model of a request, by catalogue name only.
    public func model(_ name: String?) throws -> ExplorerModel {
        guard let name, !name.isEmpty else { throw ExplorerError(.badRequest, "name a model: one of \(names.joined(separator: ", "))") }
        guard let model = models[name] else {
            throw ExplorerError(.notFound, "no model '\(name.prefix(64))' here; the models are \(names.joined(separator: ", "))")
        }
        return model
    }
}
