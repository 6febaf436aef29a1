import Foundation
import Safety

/// Everything needed to draw an output from a model: the latents, how they are laid out in
/// frames, and the encoder settings. Commands build a plan; `Renderer` draws it; the recipe
/// beside every output stores it, so `forger render` redraws the same bytes.
public struct RenderPlan: Codable, Equatable, Sendable {
    public enum Format: String, Codable, Sendable { case png, gif }

    public var format: Format
    /// Every latent the frames use, in order; tiles refer to them by index.
    public var latents: [[Float]]
    /// The class of each latent, for conditional models.
    public var labels: [Int]?
    /// Or, per latent, weights over the classes: the class embedding becomes their weighted
    /// mean (walks between classes). Takes precedence over `labels`.
    public var classWeights: [[Float]]?
    public var frames: [Frame]
    public var layout: Layout
    public var gif: GIFSettings?

    public init(format: Format, latents: [[Float]], labels: [Int]? = nil, classWeights: [[Float]]? = nil,
                frames: [Frame], layout: Layout, gif: GIFSettings? = nil) {
        self.format = format; self.latents = latents; self.labels = labels; self.classWeights = classWeights
        self.frames = frames; self.layout = layout; self.gif = gif
    }

    /// One picture: a grid of tiles, each an index into `latents` (nil leaves the cell empty).
    public struct Frame: Codable, Equatable, Sendable {
        public var tiles: [Int?]
        /// Frame periods this frame is shown (GIF holds).
        public var hold: Int
        public var caption: String?

        public init(tiles: [Int?], hold: Int = 1, caption: String? = nil) {
            self.tiles = tiles; self.hold = hold; self.caption = caption
        }
    }

    /// How tiles are arranged; shared by all frames.
    public struct Layout: Codable, Equatable, Sendable {
        public var columns: Int
        /// Integer enlargement of each generated image (nearest neighbour).
        public var scale: Int
        public var padding: Int
        /// Text under each tile position (e.g. sample numbers), or nil.
        public var tileLabels: [String]?
        public var rowCaptions: [String]?
        public var columnCaptions: [String]?
        public var title: String?

        /// Drops every caption, label and title.
        public mutating func removeText() {
            tileLabels = nil; rowCaptions = nil; columnCaptions = nil; title = nil
        }

        public init(columns: Int, scale: Int, padding: Int = 2, tileLabels: [String]? = nil,
                    rowCaptions: [String]? = nil, columnCaptions: [String]? = nil, title: String? = nil) {
            self.columns = columns; self.scale = scale; self.padding = padding; self.tileLabels = tileLabels
            self.rowCaptions = rowCaptions; self.columnCaptions = columnCaptions; self.title = title
        }
    }

    public struct GIFSettings: Codable, Equatable, Sendable {
        public var fps: Double
        /// 0 loops forever; nil plays once.
        public var loopCount: Int?
        public var dither: Bool

        public init(fps: Double, loopCount: Int? = 0, dither: Bool = true) {
            self.fps = fps; self.loopCount = loopCount; self.dither = dither
        }
    }

    /// The enlargement that makes a tile at least `minimum` pixels on its longer side.
    public static func autoScale(width: Int, height: Int, minimum: Int = 64) -> Int {
        let side = max(width, height)
        return max(1, (minimum + side - 1) / side)
    }
}

/// What is written beside every output (`out.gif` -> `out.gif.recipe.json`).
public struct Recipe: Codable, Equatable, Sendable {
    public static let formatName = "forger-recipe"

    public struct ModelReference: Codable, Equatable, Sendable {
        public var name: String
        /// SHA-256 of weights.safetensors.
        public var weightsHash: String
        /// Where the model was loaded from, as given.
        public var location: String

        enum CodingKeys: String, CodingKey {
            case name, weightsHash = "weights_sha256", location
        }

        public init(name: String, weightsHash: String, location: String) {
            self.name = name; self.weightsHash = weightsHash; self.location = location
        }
    }

    public var format: String
    public var version: Int
    public var model: ModelReference
    /// The command line that made the output, for people to read and rerun.
    public var command: [String]
    /// Every option of the command with its value, defaults included.
    public var options: [String: String]
    public var plan: RenderPlan

    public init(model: ModelReference, command: [String], options: [String: String], plan: RenderPlan) {
        self.format = Self.formatName; self.version = 1
        self.model = model; self.command = command; self.options = options; self.plan = plan
    }

    /// `out.gif` -> `out.gif.recipe.json`: every output has a recipe of its own, so `out.png`
    /// and `out.gif` never share one.
    public static func url(besides output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(output.lastPathComponent + ".recipe.json")
    }

    /// Writes `recipe` beside `output` (`Recipe.url(besides:)`), atomically.
    public static func writeAtomically(_ recipe: Recipe, besides output: URL) throws {
        try AtomicFile.write(try recipe.encoded(), to: Recipe.url(besides: output))
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    public static func read(_ url: URL) throws -> Recipe {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RenderError.badRecipe(path: url.path, reason: "cannot read (\(error.localizedDescription))")
        }
        let recipe: Recipe
        do { recipe = try JSONDecoder().decode(Recipe.self, from: data) } catch {
            throw RenderError.badRecipe(path: url.path, reason: "not a Forger recipe (\(error))")
        }
        guard recipe.format == formatName, recipe.version == 1 else {
            throw RenderError.badRecipe(path: url.path, reason: "format \(recipe.format) version \(recipe.version); expected \(formatName) version 1")
        }
        return recipe
    }
}

public enum RenderError: Error, CustomStringConvertible, Equatable {
    case badRecipe(path: String, reason: String)
    case badPlan(String)
    case modelMismatch(recipe: String, expected: String, found: String)
    case tooLarge(String)
    case nonFiniteOutput(image: Int, value: Float)
    case interrupted

    public var description: String {
        switch self {
        case .badRecipe(let path, let reason): return "\(path): \(reason)"
        case .badPlan(let reason): return "cannot render: \(reason)"
        case .tooLarge(let reason):
            return "cannot render: \(reason). Use --each DIR to write one PNG per sample, fewer samples or values, or a smaller --scale"
        case .nonFiniteOutput(let image, let value):
            return "the generator's output for image \(image) holds \(value): the model's weights overflow float32 arithmetic "
                + "(check its weights, e.g. with forger info, or re-export them); nothing was written"
        case .interrupted: return "stopped before the output was written"
        case .modelMismatch(let recipe, let expected, let found):
            return "\(recipe) was made with weights sha256 \(expected.prefix(16))…, but the model found has \(found.prefix(16))…; "
                + "pass --model with the original model directory"
        }
    }
}
