import ArgumentParser
import Foundation
import Imaging
import Latent
import Render
import Safety

extension Interpolation: ExpressibleByArgument {}
extension Easing: ExpressibleByArgument {}

struct Walk: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Animate a walk through keyframe latents, or around a great circle, as a GIF.",
        discussion: """
        Keyframes are latent sources (seed:N, FILE.json#NAME, FILE.npy#ROW), interpolated segment \
        by segment with slerp (default), lerp or gaussian-cdf and an easing curve. --loop returns to \
        the first keyframe with no repeated frame at the seam. --circle walks a great circle through \
        the plane of two latents (--plane, or two random ones from --seed) at constant norm. For a \
        conditional model, --classes gives one class per keyframe and the class embedding is \
        interpolated along with the latent.
        """)

    @OptionGroup var target: ModelArgument
    @Option(help: "Keyframes, comma-separated latent sources, e.g. seed:1,seed:7,seed:3.")
    var keyframes: String?
    @Option(help: "Frames per segment (from one keyframe up to the next), 1 to \(Limits.maximumFrames) (default 24).")
    var frames: Int?
    @Option(help: "slerp, lerp or gaussian-cdf (default slerp).")
    var interpolation: Interpolation?
    @Option(help: "linear, smoothstep or cosine (default linear).")
    var easing: Easing?
    @Option(help: "Extra frame periods to hold each keyframe, 0 to \(Limits.maximumHold - 1) (default 0).")
    var hold: Int?
    @Flag(help: "Return to the first keyframe for a seamless loop.")
    var loop = false
    @Flag(help: "Walk a great circle instead of keyframes (a seamless loop at constant norm).")
    var circle = false
    @Option(help: "With --circle: two latent sources spanning the plane (default: two random latents from --plane-seed).")
    var plane: String?
    @Option(help: "With --circle: frames around the circle, 3 to \(Limits.maximumFrames) (default 48).")
    var circleFrames: Int?
    @Option(help: "With --circle: seed of the random plane (default 0).")
    var planeSeed: UInt64?
    @Option(help: "Conditional models: one class per keyframe, e.g. 3,8,1 (the walk moves between them).")
    var classes: String?
    @Option(help: "Also write all frames side by side as one PNG strip here.")
    var strip: String?
    @Option(help: "Also write every frame as a PNG into this folder.")
    var framesDir: String?
    @OptionGroup var latentOptions: LatentOptions
    @OptionGroup var render: RenderOptions

    var framesPerSegment: Int { frames ?? 24 }
    var holdFrames: Int { hold ?? 0 }

    func validate() throws {
        guard circle || keyframes != nil else { throw ValidationError("give --keyframes seed:1,seed:2,... or --circle") }
        if circle && keyframes != nil { throw ValidationError("give --keyframes or --circle, not both") }
        if circle {
            let keyframeOnly = [frames != nil ? "--frames" : nil, interpolation != nil ? "--interpolation" : nil,
                                easing != nil ? "--easing" : nil, hold != nil ? "--hold" : nil, loop ? "--loop" : nil].compactMap { $0 }
            if !keyframeOnly.isEmpty {
                throw ValidationError("\(keyframeOnly.joined(separator: ", ")) shape a keyframe walk; a --circle walk has --circle-frames, --plane and --plane-seed")
            }
            if plane != nil && planeSeed != nil { throw ValidationError("--plane gives the plane; --plane-seed draws a random one: give one of them") }
        } else if plane != nil || circleFrames != nil || planeSeed != nil {
            throw ValidationError("--plane, --plane-seed and --circle-frames shape a --circle walk; add --circle")
        }
        try Limits.check(framesPerSegment, 1...Limits.maximumFrames, "--frames")
        try Limits.check(holdFrames, 0...(Limits.maximumHold - 1), "--hold")
        if let circleFrames { try Limits.check(circleFrames, 3...Limits.maximumFrames, "--circle-frames") }
        if let strip, !strip.lowercased().hasSuffix(".png") { throw ValidationError("--strip \(strip): name it .png") }
        try render.picture.files.check([strip.map { ($0, "--strip picture") }].compactMap { $0 })
    }

    func run() throws {
        let session = try Session(target, latentOptions)
        let (path, weights) = try buildPath(session)
        guard path.count <= Limits.maximumFrames else {
            throw UserError("the walk has \(path.count) frames; a GIF holds at most \(Limits.maximumFrames): use fewer --frames or keyframes")
        }
        let frameFiles = try framesDir.map { try framePaths($0, count: path.count) }
        var latents: [[Float]] = [], holds: [Int] = []
        for frame in path { latents.append(frame.latent); holds.append(frame.holdCount) }
        let layout = RenderPlan.Layout(columns: 1, scale: session.scale(render.target), padding: 0)
        let format = try render.format
        let plan = RenderPlan(format: format, latents: latents, labels: nil, classWeights: weights,
                              frames: format == .gif ? latents.indices.map { .init(tiles: [$0], hold: holds[$0]) }
                                                     : [.init(tiles: latents.indices.map { $0 })],
                              layout: format == .gif ? layout : .init(columns: latents.count, scale: layout.scale, padding: 0),
                              gif: session.gifSettings(render.target))
        try session.finish(plan, render.target, settings: settings)
        if let strip {
            var stripPlan = plan
            stripPlan.format = .png
            stripPlan.frames = [.init(tiles: latents.indices.map { $0 })]
            stripPlan.layout = .init(columns: latents.count, scale: layout.scale, padding: 0)
            try Renderer(model: session.model, batchSize: render.batchSize).render(stripPlan, to: URL(fileURLWithPath: strip))
        }
        if let frameFiles {
            let renderer = Renderer(model: session.model, batchSize: render.batchSize)
            var start = 0
            while start < latents.count {
                let part = Array(start..<min(latents.count, start + render.batchSize))
                for (i, image) in zip(part, try renderer.images(part, of: plan)) {
                    try PNG.write(image, to: frameFiles[i])
                }
                start += part.count
            }
        }
    }

    /// frame-00000.png ... in `folder` (created), each checked against the overwrite rule.
    func framePaths(_ folder: String, count: Int) throws -> [URL] {
        let dir = URL(fileURLWithPath: folder)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let urls = (0..<count).map { dir.appendingPathComponent(String(format: "frame-%05d.png", $0)) }
        try render.picture.files.check(urls.map { ($0.path, "--frames-dir image") })
        return urls
    }

    var settings: [String: String] {
        ["keyframes": keyframes ?? "", "frames": String(framesPerSegment), "interpolation": (interpolation ?? .slerp).rawValue,
         "easing": (easing ?? .linear).rawValue, "hold": String(holdFrames), "loop": String(loop), "circle": String(circle),
         "plane": plane ?? "", "circle-frames": String(circleFrames ?? 48), "plane-seed": String(planeSeed ?? 0),
         "classes": classes ?? ""]
    }

    /// The frames, and for conditional models the class mixture of each frame.
    func buildPath(_ session: Session) throws -> ([PathFrame], [[Float]]?) {
        if circle {
            let points: [[Float]]
            do {
                if let plane {
                    let uv = try session.latents(plane, option: "--plane")
                    guard uv.count == 2 else { throw UserError("--plane needs exactly two latents, got \(uv.count)") }
                    points = try GreatCircle.frames(u: uv[0].vector, v: uv[1].vector, frames: circleFrames ?? 48)
                } else {
                    points = try GreatCircle.frames(seed: planeSeed ?? 0, size: session.size, prior: session.prior, frames: circleFrames ?? 48)
                }
            } catch let e as LatentError { throw UserError("--circle: \(e)") }
            let weights = try classWeights(session, keyframeCount: 1).map { w in points.map { _ in w[0] } }
            return (points.map { PathFrame(latent: $0) }, weights)
        }
        let keys = try session.latents(keyframes!, option: "--keyframes")
        guard keys.count >= 2 else {
            throw UserError("--keyframes: a walk needs at least two keyframes, got \(keys.count)")
        }
        let segments = loop ? keys.count : keys.count - 1
        guard let count = Limits.product([segments, framesPerSegment]), count < Limits.maximumFrames else {
            throw UserError("\(segments) segments of \(framesPerSegment) frames pass the \(Limits.maximumFrames) frames a GIF holds; "
                            + "use fewer --frames or keyframes")
        }
        let path: KeyframePath
        do {
            path = try KeyframePath(keyframes: keys.map(\.vector), framesPerSegment: framesPerSegment,
                                    interpolation: interpolation ?? .slerp, easing: easing ?? .linear, holdFrames: holdFrames, loop: loop)
        } catch let e as LatentError { throw UserError("\(e)") }
        let out = path.frames()
        guard let keyWeights = try classWeights(session, keyframeCount: keys.count) else { return (out, nil) }
        // Mirror KeyframePath's frame order: per segment, t = easing(j / frames) for j < frames.
        var weights: [[Float]] = []
        let k = keys.count
        for s in 0..<(loop ? k : k - 1) {
            let a = keyWeights[s], b = keyWeights[(s + 1) % k]
            for j in 0..<framesPerSegment {
                let t = (easing ?? .linear).apply(Float(j) / Float(framesPerSegment))
                weights.append(zip(a, b).map { (1 - t) * $0 + t * $1 })
            }
        }
        if !loop { weights.append(keyWeights[k - 1]) }
        precondition(weights.count == out.count)
        return (out, weights)
    }

    /// One-hot class weights per keyframe (nil for unconditional models).
    func classWeights(_ session: Session, keyframeCount: Int) throws -> [[Float]]? {
        guard let c = session.model.manifest.conditioning else {
            if classes != nil { throw UserError("--classes: model '\(session.model.manifest.name)' is not conditional") }
            return nil
        }
        var list = [Int](repeating: session.label ?? 0, count: keyframeCount)
        if let classes {
            let parsed = classes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parsed.allSatisfy({ $0 != nil }), !parsed.isEmpty else { throw UserError("--classes '\(classes)': give class numbers like 3,8,1") }
            list = parsed.map { $0! }
            if list.count == 1 { list = [Int](repeating: list[0], count: keyframeCount) }
            guard list.count == keyframeCount else {
                throw UserError("--classes gives \(list.count) classes for \(keyframeCount) keyframes; give one per keyframe")
            }
        }
        if let bad = list.first(where: { !(0..<c.classes).contains($0) }) {
            throw UserError("--classes: class \(bad) is outside 0 to \(c.classes - 1)")
        }
        return list.map { k in (0..<c.classes).map { $0 == k ? 1 : 0 } }
    }
}
