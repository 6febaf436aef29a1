import Foundation
import Render
import Safety

/// The `--exports` folder: outputs and their recipes under names the server chooses
/// (`latent-N.png`, `walk-N.gif`, each with `<output>.recipe.json`), written atomically and
/// never over an existing file. Reads are by exact name only; there is no listing.
final class ExportFolder: @unchecked Sendable {
    let directory: URL
    private let lock = NSLock()
    /// Names handed out by this server, taken before their files exist.
    private var taken = Set<String>()

    init(_ directory: URL) throws {
        self.directory = directory.standardizedFileURL
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    /// The first `stem-N.ext` (N from 1) whose output and recipe are both free.
    func reserve(stem: String, ext: String) -> String {
        lock.lock(); defer { lock.unlock() }
        var n = 1
        while true {
            let name = "\(stem)-\(n).\(ext)"
            let url = directory.appendingPathComponent(name)
            if !taken.contains(name), !FileManager.default.fileExists(atPath: url.path),
               !FileManager.default.fileExists(atPath: Recipe.url(besides: url).path) {
                taken.insert(name)
                return name
            }
            n += 1
        }
    }

    /// Draws the plan into a fresh name with its recipe; returns both file names.
    func write(_ plan: RenderPlan, model: ExplorerModel, stem: String) throws -> [String] {
        let name = reserve(stem: stem, ext: plan.format.rawValue)
        let url = directory.appendingPathComponent(name)
        try model.renderer.render(plan, to: url)
        let recipe = Recipe(model: .init(name: model.loaded.manifest.name, weightsHash: model.loaded.weightsHash,
                                         location: model.loaded.directory.path),
                            command: ["forger", "serve"],
                            options: ["model": model.name, "output": name, "scale": String(plan.layout.scale),
                                      "labels": "false", "source": "forger serve export"],
                            plan: plan)
        try Recipe.writeAtomically(recipe, besides: url)
        return [name, Recipe.url(besides: url).lastPathComponent]
    }

    /// Names this folder serves: exactly what `write` makes.
    static let namePattern = try! NSRegularExpression(pattern: #"^(latent|walk)-[0-9]{1,9}\.(png|gif)(\.recipe\.json)?$"#)

    func read(_ name: String) throws -> (bytes: [UInt8], type: String) {
        guard Self.namePattern.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil else {
            throw ExplorerError(.notFound, "no export called '\(name.prefix(64))'; exports are named like walk-3.gif")
        }
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExplorerError(.notFound, "no export called '\(name)'")
        }
        let type = name.hasSuffix(".json") ? "application/json" : name.hasSuffix(".gif") ? "image/gif" : "image/png"
        return (try AtomicFile.readBytes(url), type)
    }
}
