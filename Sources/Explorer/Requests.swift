import Foundation
import Latent
import Render
import Safety

/// Latents on the wire: base64 (standard or URL-safe, padding optional) of little-endian
/// float32 values, exactly the model's latent size.
public enum LatentCodec {
    public static func encode(_ values: [Float]) -> String {
        var bytes = [UInt8](); bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        return Data(bytes).base64EncodedString()
    }

    /// The latent of `text`, checked: `size` values, every one finite and within the bound.
    public static func decode(_ text: String, size: Int, field: String) throws -> [Float] {
        guard text.utf8.count <= (size * 4 + 2) / 3 * 4 + 4 else {
            throw ExplorerError(.badRequest, "\(field): too long for \(size) float32 values")
        }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.utf8.count % 4 != 0 { standard += "=" }
        guard let data = Data(base64Encoded: standard) else {
            throw ExplorerError(.badRequest, "\(field): not base64 (send the latent as base64 of little-endian float32 values)")
        }
        guard data.count == size * 4 else {
            throw ExplorerError(.badRequest, "\(field): \(data.count) bytes; this model's latent is \(size) float32 values, \(size * 4) bytes")
        }
        let values = data.withUnsafeBytes { raw in
            (0..<size).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        if let bad = values.firstIndex(where: { !$0.isFinite || abs($0) > maximumMagnitude }) {
            throw ExplorerError(.badRequest, "\(field): value \(bad) is \(values[bad]); latents hold finite values within ±\(Int(maximumMagnitude))")
        }
        return values
    }

    /// Far beyond any prior's spread; keeps the generator's arithmetic finite.
    public static let maximumMagnitude: Float = 1000
}

/// What every render takes besides its latents: the model, the enlargement, the class of a
/// conditional model, and truncation (z' = psi z, applied by the server so that the recipe
/// holds the latents actually drawn).
public struct PictureFields: Codable, Equatable, Sendable {
    public var model: String
    public var scale: Int?
    public var label: Int?
    public var truncation: Float?

    enum CodingKeys: String, CodingKey { case model, scale, label = "class", truncation }

    public init(model: String, scale: Int? = nil, label: Int? = nil, truncation: Float? = nil) {
        self.model = model; self.scale = scale; self.label = label; self.truncation = truncation
    }

    /// Enlargements the server draws; the page enlarges further in the browser, crisply.
    public static let scales = 1...16

    func checked(_ model: ExplorerModel) throws -> (scale: Int, labels: (Int) -> [Int]?, psi: Float) {
        let scale = self.scale ?? 1
        guard Self.scales.contains(scale) else { throw ExplorerError(.badRequest, "scale \(scale): use \(Self.scales.lowerBound) to \(Self.scales.upperBound)") }
        if let classes = model.classes {
            let label = self.label ?? 0
            guard (0..<classes).contains(label) else {
                throw ExplorerError(.badRequest, "class \(label): model '\(model.name)' has classes 0 to \(classes - 1)")
            }
            let labels: (Int) -> [Int]? = { [Int](repeating: label, count: $0) }
            return (scale, labels, try psi())
        }
        guard label == nil else { throw ExplorerError(.badRequest, "class: model '\(model.name)' is not conditional") }
        return (scale, { _ in nil }, try psi())
    }

    func psi() throws -> Float {
        let psi = truncation ?? 1
        guard psi > 0, psi <= 1 else { throw ExplorerError(.badRequest, "truncation \(psi): psi must be above 0 and at most 1") }
        return psi
    }
}

/// `GET /api/render?...` or `POST /api/render {...}`: one latent to a PNG.
public struct RenderRequest: Codable, Equatable, Sendable {
    public var picture: PictureFields
    public var latent: String

    enum CodingKeys: String, CodingKey { case latent }

    public init(picture: PictureFields, latent: String) { self.picture = picture; self.latent = latent }

    public init(from decoder: any Decoder) throws {
        picture = try PictureFields(from: decoder)
        latent = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .latent)
    }

    public func encode(to encoder: any Encoder) throws {
        try picture.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(latent, forKey: .latent)
    }

    /// The plan `forger sample --latents z.npy --no-labels --scale S -o out.png` makes for one
    /// latent, so the API's bytes equal the CLI's.
    public func plan(_ model: ExplorerModel) throws -> RenderPlan {
        let fields = try picture.checked(model)
        let z = try LatentCodec.decode(latent, size: model.latentSize, field: "latent").map { $0 * fields.psi }
        return RenderPlan(format: .png, latents: [z], labels: fields.labels(1), frames: [.init(tiles: [0])],
                          layout: .init(columns: 1, scale: fields.scale))
    }
}

/// `POST /api/animate`: a looping GIF through keyframes (a walk through bookmarks, or a
/// direction strip: the latent pushed to -k and +k sigma and back).
public struct AnimateRequest: Codable, Equatable, Sendable {
    public var picture: PictureFields
    public var keyframes: [String]
    /// Frames from one keyframe to the next.
    public var frames: Int?
    public var loop: Bool?
    /// slerp (default) or lerp.
    public var interpolation: String?
    public var fps: Double?

    enum CodingKeys: String, CodingKey { case keyframes, frames, loop, interpolation, fps }

    public init(picture: PictureFields, keyframes: [String], frames: Int? = nil, loop: Bool? = nil,
                interpolation: String? = nil, fps: Double? = nil) {
        self.picture = picture; self.keyframes = keyframes; self.frames = frames; self.loop = loop
        self.interpolation = interpolation; self.fps = fps
    }

    public init(from decoder: any Decoder) throws {
        picture = try PictureFields(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keyframes = try c.decode([String].self, forKey: .keyframes)
        frames = try c.decodeIfPresent(Int.self, forKey: .frames)
        loop = try c.decodeIfPresent(Bool.self, forKey: .loop)
        interpolation = try c.decodeIfPresent(String.self, forKey: .interpolation)
        fps = try c.decodeIfPresent(Double.self, forKey: .fps)
    }

    public func encode(to encoder: any Encoder) throws {
        try picture.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(keyframes, forKey: .keyframes)
        try c.encodeIfPresent(frames, forKey: .frames)
        try c.encodeIfPresent(loop, forKey: .loop)
        try c.encodeIfPresent(interpolation, forKey: .interpolation)
        try c.encodeIfPresent(fps, forKey: .fps)
    }

    public static let maximumKeyframes = 64
    public static let segmentFrames = 1...60
    /// Frames of one GIF the server draws.
    public static let maximumFrames = 600

    /// Each segment's frames at t = 0, 1/n, ..., (n-1)/n; a loop returns to the first keyframe
    /// without repeating it (seamless), an open walk ends on the last keyframe.
    public func plan(_ model: ExplorerModel) throws -> RenderPlan {
        let fields = try picture.checked(model)
        guard (2...Self.maximumKeyframes).contains(keyframes.count) else {
            throw ExplorerError(.badRequest, "keyframes: give 2 to \(Self.maximumKeyframes) latents, got \(keyframes.count)")
        }
        let perSegment = frames ?? 12
        guard Self.segmentFrames.contains(perSegment) else {
            throw ExplorerError(.badRequest, "frames \(perSegment): use \(Self.segmentFrames.lowerBound) to \(Self.segmentFrames.upperBound) a segment")
        }
        let fps = self.fps ?? 12
        guard fps > 0, fps <= 50 else { throw ExplorerError(.badRequest, "fps \(fps): above 0 and at most 50") }
        let method: Interpolation
        switch interpolation ?? "slerp" {
        case "slerp": method = .slerp
        case "lerp": method = .lerp
        default: throw ExplorerError(.badRequest, "interpolation '\((interpolation ?? "").prefix(32))': use slerp or lerp")
        }
        let loop = self.loop ?? true
        let segments = loop ? keyframes.count : keyframes.count - 1
        let total = segments * perSegment + (loop ? 0 : 1)
        guard total <= Self.maximumFrames else {
            throw ExplorerError(.badRequest, "\(total) frames; one GIF here holds at most \(Self.maximumFrames) (fewer keyframes or frames)")
        }
        let keys = try keyframes.enumerated().map { i, text in
            try LatentCodec.decode(text, size: model.latentSize, field: "keyframes[\(i)]").map { $0 * fields.psi }
        }
        var latents: [[Float]] = []
        for s in 0..<segments {
            let a = keys[s], b = keys[(s + 1) % keys.count]
            for k in 0..<perSegment { latents.append(method.interpolate(a, b, Float(k) / Float(perSegment))) }
        }
        if !loop { latents.append(keys[keys.count - 1]) }
        return RenderPlan(format: .gif, latents: latents, labels: fields.labels(latents.count),
                          frames: latents.indices.map { .init(tiles: [$0]) }, layout: .init(columns: 1, scale: fields.scale),
                          gif: .init(fps: fps, loopCount: 0, dither: true))
    }
}

/// `POST /api/export`: a PNG of one latent or a GIF through keyframes, written into the
/// exports folder with its recipe under a name the server chooses.
public struct ExportRequest: Codable, Equatable, Sendable {
    public var png: RenderRequest?
    public var gif: AnimateRequest?

    public init(png: RenderRequest? = nil, gif: AnimateRequest? = nil) { self.png = png; self.gif = gif }
}
