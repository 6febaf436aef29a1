import Foundation
import ModelIO

/// One frame of a path: a latent shown for `holdCount` frame times (>= 1).
///
/// Holds are kept as counts rather than repeated latents: a GIF writer encodes a frame with
/// `holdCount * frameDelay` hundredths of a second (never merging or dropping time), and a
/// writer without variable delays repeats the frame `holdCount` times (`KeyframePath.expanded`).
public struct PathFrame: Equatable, Sendable {
    public var latent: [Float]
    public var holdCount: Int
    /// The index of the keyframe this frame shows, or nil for an in-between frame.
    public var keyframe: Int?

    public init(latent: [Float], holdCount: Int = 1, keyframe: Int? = nil) {
        self.latent = latent
        self.holdCount = holdCount
        self.keyframe = keyframe
    }
}

/// A walk through keyframe latents, interpolated segment by segment.
///
/// Segment i runs from keyframe i to keyframe i+1 and contributes `framesPerSegment` frames at
/// eased times t = easing(j / framesPerSegment), j = 0 ..< framesPerSegment: its start keyframe
/// is included, its end keyframe is not (it starts the next segment).
/// - Non-loop: segments 0 ..< K-1, then the final keyframe once: (K-1) F + 1 frames.
/// - Loop: K segments, the last one returning to keyframe 0; keyframe 0 is not repeated at the
///   end, so playing the frames cyclically is seamless: K F frames.
/// - One keyframe gives one frame either way.
/// Frames showing a keyframe get `holdCount = 1 + holdFrames`; all others 1.
public struct KeyframePath: Sendable {
    public var keyframes: [[Float]]
    public var framesPerSegment: Int
    public var interpolation: Interpolation
    public var easing: Easing
    public var holdFrames: Int
    public var loop: Bool

    /// Throws if there are no keyframes, their sizes differ, framesPerSegment < 1 or holdFrames < 0.
    public init(keyframes: [[Float]], framesPerSegment: Int, interpolation: Interpolation = .slerp,
                easing: Easing = .linear, holdFrames: Int = 0, loop: Bool = false) throws {
        guard let first = keyframes.first else {
            throw LatentError.invalidOption("a path needs at least one keyframe")
        }
        if let bad = keyframes.firstIndex(where: { $0.count != first.count }) {
            throw LatentError.invalidOption(
                "keyframe \(bad) has size \(keyframes[bad].count), keyframe 0 has size \(first.count)")
        }
        guard framesPerSegment >= 1 else {
            throw LatentError.invalidOption("frames per segment must be at least 1, got \(framesPerSegment)")
        }
        guard holdFrames >= 0 else {
            throw LatentError.invalidOption("hold frames must be 0 or more, got \(holdFrames)")
        }
        self.keyframes = keyframes
        self.framesPerSegment = framesPerSegment
        self.interpolation = interpolation
        self.easing = easing
        self.holdFrames = holdFrames
        self.loop = loop
    }

    public func frames() -> [PathFrame] {
        let k = keyframes.count
        let hold = 1 + holdFrames
        if k == 1 { return [PathFrame(latent: keyframes[0], holdCount: hold, keyframe: 0)] }
        var out: [PathFrame] = []
        let segments = loop ? k : k - 1
        for s in 0..<segments {
            let a = keyframes[s], b = keyframes[(s + 1) % k]
            out.append(PathFrame(latent: a, holdCount: hold, keyframe: s))
            for j in 1..<max(1, framesPerSegment) {
                let t = easing.apply(Float(j) / Float(framesPerSegment))
                out.append(PathFrame(latent: interpolation.interpolate(a, b, t)))
            }
        }
        if !loop { out.append(PathFrame(latent: keyframes[k - 1], holdCount: hold, keyframe: k - 1)) }
        return out
    }

    /// The frames with each one repeated `holdCount` times, for writers without per-frame delays.
    public func expanded() -> [[Float]] {
        frames().flatMap { Array(repeating: $0.latent, count: $0.holdCount) }
    }
}

/// Closed loops on a sphere around the origin.
public enum GreatCircle {
    /// Gram-Schmidt: u^ = u/|u|, v^ = (v - (v.u^) u^)/|.|. Throws if u is zero or v is (nearly)
    /// parallel to u (|v - (v.u^)u^| < 1e-6 |v|).
    public static func orthonormalise(_ u: [Float], _ v: [Float]) throws -> (u: [Float], v: [Float]) {
        guard u.count == v.count, u.count >= 2 else {
            throw LatentError.invalidOption("a great circle needs two latents of one size >= 2, got \(u.count) and \(v.count)")
        }
        let nu = norm(u)
        guard nu > 0 else { throw LatentError.degenerate("the first latent of a great circle is zero") }
        let uh = scaled(u, 1 / nu)
        let vPerp = combine(1, v, -dot(v, uh), uh)
        let nv = norm(vPerp)
        guard nv > 1e-6 * norm(v), nv > 0 else {
            throw LatentError.degenerate("the two latents of a great circle are parallel; pick another pair")
        }
        return (uh, scaled(vPerp, 1 / nv))
    }

    /// z(theta_k) = r (cos(theta_k) u^ + sin(theta_k) v^), theta_k = 2 pi k / N for k < N, with
    /// u^, v^ from `orthonormalise`. The radius defaults to the mean of |u| and |v|. Frame N
    /// would equal frame 0, so it is left out: the frames loop seamlessly.
    public static func frames(u: [Float], v: [Float], radius: Float? = nil, frames count: Int) throws -> [[Float]] {
        guard count >= 1 else { throw LatentError.invalidOption("a great circle needs at least 1 frame, got \(count)") }
        let (uh, vh) = try orthonormalise(u, v)
        let r = radius.map(Double.init) ?? (norm(u) + norm(v)) / 2
        guard r > 0, r.isFinite else { throw LatentError.invalidOption("great-circle radius must be positive, got \(r)") }
        return (0..<count).map { k in
            let theta = 2 * Double.pi * Double(k) / Double(count)
            return combine(r * Foundation.cos(theta), uh, r * Foundation.sin(theta), vh)
        }
    }

    /// A great circle through the directions of seeds `seed` and `seed + 1` (drawn by
    /// `LatentSampler`). Default radius: sqrt(size) for the normal prior (the typical norm of an
    /// N(0, I) sample, so every frame looks like a typical sample); for a uniform prior the mean
    /// of the two drawn latents' norms.
    public static func frames(seed: UInt64, size: Int, prior: LatentPrior = .normal,
                              radius: Float? = nil, frames count: Int) throws -> [[Float]] {
        let u = LatentSampler.sample(seed: seed, index: 0, size: size, prior: prior)
        let v = LatentSampler.sample(seed: seed, index: 1, size: size, prior: prior)
        var r = radius
        if r == nil, case .normal = prior { r = Float(Double(size).squareRoot()) }
        return try frames(u: u, v: v, radius: r, frames: count)
    }
}

/// `GreatCircle.frames(u:v:radius:frames:)` under the name used in the design notes.
public func greatCircle(u: [Float], v: [Float], radius: Float? = nil, frames: Int) throws -> [[Float]] {
    try GreatCircle.frames(u: u, v: v, radius: radius, frames: frames)
}
