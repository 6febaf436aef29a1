import XCTest
@testable import Latent

final class PathTests: XCTestCase {
    let keys: [[Float]] = [[0, 0, 0], [3, 0, 0], [3, 4, 0]]

    func testNonLoopIncludesFinalKeyframeOnce() throws {
        let path = try KeyframePath(keyframes: keys, framesPerSegment: 4, interpolation: .lerp)
        let frames = path.frames()
        XCTAssertEqual(frames.count, 2 * 4 + 1)
        assertClose(frames[0].latent, keys[0], tolerance: 0)
        assertClose(frames[4].latent, keys[1], tolerance: 0)
        assertClose(frames[8].latent, keys[2], tolerance: 0)
        assertClose(frames[1].latent, [0.75, 0, 0], tolerance: 1e-6)
        assertClose(frames[7].latent, [3, 3, 0], tolerance: 1e-6)
        XCTAssertEqual(frames.filter { $0.keyframe == 2 }.count, 1)
        XCTAssertEqual(frames.map(\.keyframe), [0, nil, nil, nil, 1, nil, nil, nil, 2])
    }

    func testLoopReturnsToStartWithoutRepeatingIt() throws {
        let path = try KeyframePath(keyframes: keys, framesPerSegment: 4, interpolation: .lerp, loop: true)
        let frames = path.frames().map(\.latent)
        XCTAssertEqual(frames.count, 3 * 4)
        // The last frame is 3/4 of the way from keyframe 2 back to keyframe 0, not keyframe 0.
        assertClose(frames[11], [0.75, 1, 0], tolerance: 1e-6)
        XCTAssertGreaterThan(distance(frames[11], frames[0]), 0.5)
        // Played cyclically, each step is 1/4 of its segment's length, seam included.
        let segmentLengths = [3.0, 4.0, 5.0]
        for i in 0..<frames.count {
            let step = distance(frames[i], frames[(i + 1) % frames.count])
            assertClose(step, segmentLengths[i / 4] / 4, tolerance: 1e-5, "step \(i)")
        }
    }

    func testHoldsAndEasing() throws {
        let path = try KeyframePath(keyframes: keys, framesPerSegment: 4, interpolation: .lerp,
                                    easing: .smoothstep, holdFrames: 2)
        let frames = path.frames()
        XCTAssertEqual(frames.map(\.holdCount), [3, 1, 1, 1, 3, 1, 1, 1, 3])
        XCTAssertEqual(path.expanded().count, 9 + 3 * 2)
        // Frame 1 sits at smoothstep(1/4) = 0.15625 of the first segment.
        assertClose(frames[1].latent, [3 * 0.15625, 0, 0], tolerance: 1e-6)
    }

    func testSingleKeyframeAndValidation() throws {
        XCTAssertEqual(try KeyframePath(keyframes: [[1, 2]], framesPerSegment: 5, loop: true).frames().count, 1)
        XCTAssertThrowsError(try KeyframePath(keyframes: [], framesPerSegment: 4))
        XCTAssertThrowsError(try KeyframePath(keyframes: [[1], [1, 2]], framesPerSegment: 4))
        XCTAssertThrowsError(try KeyframePath(keyframes: keys, framesPerSegment: 0))
        XCTAssertThrowsError(try KeyframePath(keyframes: keys, framesPerSegment: 2, holdFrames: -1))
    }

    func testGreatCircleFramesShareNormAndAreEvenlySpaced() throws {
        let u = LatentSampler.sample(seed: 1, size: 16), v = LatentSampler.sample(seed: 2, size: 16)
        let n = 12
        let frames = try greatCircle(u: u, v: v, frames: n)
        XCTAssertEqual(frames.count, n)
        let r = (norm(u) + norm(v)) / 2        // default radius: mean of the input norms
        for (k, f) in frames.enumerated() { assertClose(norm(f), r, tolerance: 1e-4 * r, "frame \(k)") }
        for k in 0..<n {   // the seam (n-1 -> 0) included
            assertClose(angle(frames[k], frames[(k + 1) % n]), 2 * Double.pi / Double(n), tolerance: 1e-4, "step \(k)")
        }
        // No frame repeats, so the seam is not doubled.
        assertClose(angle(frames[n - 1], frames[0]), 2 * Double.pi / Double(n), tolerance: 1e-4)
        // Frame 0 points along u.
        assertClose(angle(frames[0], u), 0, tolerance: 1e-3)
        // All frames lie in span(u, v): the residual after projecting onto it is zero.
        let uh = u.map { Float(Double($0) / norm(u)) }
        for f in frames {
            let a = dot(f, uh)
            let rest = zip(f, uh).map { $0 - Float(a) * $1 }
            let vPerp = zip(v, uh).map { $0 - Float(dot(v, uh)) * $1 }
            let b = dot(rest, vPerp) / norm(vPerp)
            assertClose(a * a + b * b, r * r, tolerance: 1e-3 * r * r)
        }
    }

    func testGreatCircleFromSeedUsesSqrtSizeRadius() throws {
        let frames = try GreatCircle.frames(seed: 5, size: 64, frames: 8)
        for f in frames { assertClose(norm(f), 8, tolerance: 1e-4) }
        let explicit = try GreatCircle.frames(u: [2, 0, 0], v: [1, 1, 0], radius: 3, frames: 4)
        assertClose(explicit[0], [3, 0, 0], tolerance: 1e-6)
        assertClose(explicit[1], [0, 3, 0], tolerance: 1e-6)
        assertClose(explicit[2], [-3, 0, 0], tolerance: 1e-6)
        assertClose(explicit[3], [0, -3, 0], tolerance: 1e-6)
        XCTAssertThrowsError(try greatCircle(u: [1, 2, 3], v: [2, 4, 6], frames: 4))
        XCTAssertThrowsError(try greatCircle(u: [0, 0, 0], v: [2, 4, 6], frames: 4))
    }
}
