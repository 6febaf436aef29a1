import XCTest
@testable import Latent

final class InterpolationTests: XCTestCase {
    let a: [Float] = [10, 0, 0, 0]
    let b: [Float] = [0, 10, 0, 0]

    func testSlerpEndpoints() {
        let x = LatentSampler.sample(seed: 1, size: 16), y = LatentSampler.sample(seed: 2, size: 16)
        for f in [slerp, lerp, gaussianCDFInterpolate] {
            assertClose(f(x, y, 0), x, tolerance: 0)
            assertClose(f(x, y, 1), y, tolerance: 0)
            assertClose(f(x, y, -0.5), x, tolerance: 0)
            assertClose(f(x, y, 1.5), y, tolerance: 0)
        }
    }

    func testSlerpMidpointKeepsNormLerpDoesNot() {
        let s = slerp(a, b, 0.5)
        assertClose(norm(s), 10, tolerance: 1e-4)
        assertClose(s, [Float(10 / 2.0.squareRoot()), Float(10 / 2.0.squareRoot()), 0, 0], tolerance: 1e-4)
        assertClose(norm(lerp(a, b, 0.5)), 10 / 2.0.squareRoot(), tolerance: 1e-4)   // 7.0711
    }

    func testSlerpFollowsTheQuarterCircle() {
        for t: Float in [0.1, 0.3, 0.7, 0.9] {
            let theta = Double(t) * Double.pi / 2
            assertClose(slerp(a, b, t), [Float(10 * cos(theta)), Float(10 * sin(theta)), 0, 0], tolerance: 1e-4, "t=\(t)")
        }
    }

    func testNearParallelFallsBackToLerpWithoutNaN() {
        let p: [Float] = [1, 0, 0], q: [Float] = [1, 1e-4, 0]
        let m = slerp(p, q, 0.5)
        XCTAssertTrue(m.allSatisfy(\.isFinite))
        assertClose(m, [1, 0.5e-4, 0], tolerance: 1e-7)
        let same = slerp(p, p, 0.3)
        assertClose(same, p, tolerance: 1e-7)
        // Parallel, different lengths: lerp of lengths.
        assertClose(slerp([2, 0], [4, 0], 0.5), [3, 0], tolerance: 1e-6)
    }

    func testZeroEndpointFallsBackToLerp() {
        let m = slerp([0, 0, 0], [2, 4, 6], 0.25)
        assertClose(m, [0.5, 1, 1.5], tolerance: 1e-6)
    }

    func testAntiParallelGoesAroundNotThroughZero() {
        let p: [Float] = [3, 4, 0, 0]            // norm 5
        let q = p.map { -$0 }
        let m = slerp(p, q, 0.5)
        XCTAssertTrue(m.allSatisfy(\.isFinite))
        assertClose(norm(m), 5, tolerance: 1e-4)
        assertClose(dot(m, p), 0, tolerance: 1e-3)               // a quarter turn from p
        assertClose(m, slerp(p, q, 0.5), tolerance: 0)           // deterministic
        for k in 1..<20 {
            let t = Float(k) / 20
            let z = slerp(p, q, t)
            assertClose(norm(z), 5, tolerance: 1e-4, "t=\(t)")
            assertClose(angle(p, z), Double(t) * Double.pi, tolerance: 1e-3, "t=\(t)")
        }
        // Nearly anti-parallel: still finite, norm kept.
        let r: [Float] = [-3, -4, 1e-4, 0]
        assertClose(norm(slerp(p, r, 0.5)), 5, tolerance: 1e-3)
    }

    func testEasingCurves() {
        let cases: [(Easing, [Float])] = [
            (.linear, [0, 0.25, 0.5, 1]),
            (.smoothstep, [0, 0.15625, 0.5, 1]),                                  // t^2 (3 - 2t)
            (.cosine, [0, Float((1 - cos(Double.pi / 4)) / 2), 0.5, 1]),         // 0.1464466
        ]
        for (easing, expected) in cases {
            assertClose([0, 0.25, 0.5, 1].map(easing.apply), expected, tolerance: 1e-6, "\(easing)")
            assertClose(easing.apply(-1), 0, tolerance: 0)
            assertClose(easing.apply(2), 1, tolerance: 0)
        }
    }

    func testNormalCDFAndInverse() {
        assertClose(normalCDF(0), 0.5, tolerance: 1e-15)
        assertClose(inverseNormalCDF(0.5), 0, tolerance: 1e-12)
        assertClose(inverseNormalCDF(0.975), 1.959963984540054, tolerance: 1e-12)   // standard table value
        assertClose(inverseNormalCDF(0.025), -1.959963984540054, tolerance: 1e-12)
        // All three regions of Acklam's approximation. Above x = 5, Phi(x) in Double keeps too
        // few bits of 1 - Phi(x) for a round trip to mean anything, so stop there.
        var x = -8.0
        while x <= 5 {
            assertClose(inverseNormalCDF(normalCDF(x)), x, tolerance: 1e-9 * max(1, abs(x)), "x=\(x)")
            x += 0.37
        }
        for p in [1e-12, 1e-6, 0.01, 0.3, 0.7, 0.99, 1 - 1e-6] {
            assertClose(normalCDF(inverseNormalCDF(p)), p, tolerance: 1e-12 * max(p, 1e-3), "p=\(p)")
        }
        XCTAssertEqual(inverseNormalCDF(0), -.infinity)
        XCTAssertEqual(inverseNormalCDF(1), .infinity)
    }

    func testGaussianCDFInterpolation() {
        // z = PhiInv((1-t) Phi(a) + t Phi(b)), checked per component.
        let p: [Float] = [-1, 0.5, 2], q: [Float] = [1, 0.5, -0.3]
        let m = gaussianCDFInterpolate(p, q, 0.5)
        assertClose(m[0], 0, tolerance: 1e-6)       // symmetric pair meets at 0
        assertClose(m[1], 0.5, tolerance: 1e-6)     // equal components stay put
        let expected = inverseNormalCDF(0.5 * normalCDF(2) + 0.5 * normalCDF(-0.3))
        assertClose(Double(m[2]), expected, tolerance: 1e-6)
        XCTAssertTrue(gaussianCDFInterpolate([40, -40], [40, -40], 0.5).allSatisfy(\.isFinite))
        assertClose(Interpolation.gaussianCDF.interpolate(p, q, 0.5), m, tolerance: 0)
        assertClose(Interpolation.lerp.interpolate(p, q, 0.5), [0, 0.5, 0.85], tolerance: 1e-6)
    }
}
