import XCTest
import Tensor
@testable import Latent

final class SamplingTests: XCTestCase {
    func testSplitMixMatchesPublishedReferenceValue() {
        // First output of splitmix64 for seed 0, from the reference implementation.
        var rng = SplitMix64(seed: 0)
        XCTAssertEqual(rng.next(), 0xE220A8397B1DCDAF)
        var reference = ReferenceSplitMix(x: 0)
        XCTAssertEqual(reference.next(), 0xE220A8397B1DCDAF)
    }

    func testSplitMixStreamMatchesIndependentImplementation() {
        for seed: UInt64 in [0, 1, 42, 0xDEADBEEF, .max] {
            var rng = SplitMix64(seed: seed)
            var reference = ReferenceSplitMix(x: seed)
            for _ in 0..<1000 { XCTAssertEqual(rng.next(), reference.next()) }
        }
    }

    func testNormalSampleFollowsTheDocumentedMapping() {
        for seed: UInt64 in [0, 7, 123456789] {
            var reference = ReferenceSplitMix(x: seed)
            let expected = (0..<64).map { _ in Float(reference.normal()) }
            assertClose(LatentSampler.sample(seed: seed, size: 64), expected, tolerance: 1e-6, "seed \(seed)")
        }
    }

    func testUniformSampleFollowsTheDocumentedMapping() {
        var reference = ReferenceSplitMix(x: 5)
        let expected = (0..<32).map { _ in Float(-1 + 2 * reference.unit()) }
        assertClose(LatentSampler.sample(seed: 5, size: 32, prior: .uniform(low: -1, high: 1)), expected, tolerance: 1e-6)
    }

    func testIndexIsSeedOffsetAndDeterministic() {
        let a = LatentSampler.sample(seed: 10, index: 3, size: 20)
        let b = LatentSampler.sample(seed: 13, size: 20)
        let c = LatentSampler.sample(seed: 10, index: 3, size: 20)
        assertClose(a, b, tolerance: 0)
        assertClose(a, c, tolerance: 0)
        XCTAssertGreaterThan(distance(a, LatentSampler.sample(seed: 10, index: 4, size: 20)), 0.1)
        let batch = LatentSampler.batchTensor(seed: 10, count: 5, size: 20)
        XCTAssertEqual(batch.shape, [5, 20])
        assertClose(batch.latentRows[3], b, tolerance: 0)
    }

    func testNormalStatistics() {
        // 100k components: the standard error of the mean is 1/sqrt(1e5) = 0.0032; allow 5 sigma.
        let z = LatentSampler.sample(seed: 2024, size: 100_000).map(Double.init)
        let mean = z.reduce(0, +) / Double(z.count)
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(z.count - 1)
        assertClose(mean, 0, tolerance: 0.016)
        assertClose(variance.squareRoot(), 1, tolerance: 0.01)
        // Fraction beyond 1.96 sigma should be 5% (binomial sd 0.0007).
        let tail = Double(z.filter { abs($0) > 1.959964 }.count) / Double(z.count)
        assertClose(tail, 0.05, tolerance: 0.0035)
    }

    func testUniformStatistics() {
        let z = LatentSampler.sample(seed: 9, size: 100_000, prior: .uniform(low: -1, high: 1)).map(Double.init)
        XCTAssertTrue(z.allSatisfy { $0 >= -1 && $0 < 1 })
        let mean = z.reduce(0, +) / Double(z.count)
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(z.count)
        assertClose(mean, 0, tolerance: 0.01)        // sd of the mean 0.0018
        assertClose(variance, 1.0 / 3.0, tolerance: 0.005)
    }

    func testPsiTruncationScalesTheSameDraw() {
        let plain = LatentSampler.sample(seed: 3, size: 50)
        let truncated = LatentSampler.sample(seed: 3, size: 50, truncation: .psi(0.5))
        assertClose(truncated, plain.map { 0.5 * $0 }, tolerance: 1e-6)
        // uniform(0, 1): psi shrinks toward the centre 0.5.
        let u = LatentSampler.sample(seed: 3, size: 50, prior: .uniform(low: 0, high: 1))
        let ut = LatentSampler.sample(seed: 3, size: 50, prior: .uniform(low: 0, high: 1), truncation: .psi(0.5))
        assertClose(ut, u.map { 0.5 + 0.5 * ($0 - 0.5) }, tolerance: 1e-6)
    }

    func testResampleTruncationRedrawsFromTheSameStream() {
        let tau: Double = 0.5
        var reference = ReferenceSplitMix(x: 77)
        let expected: [Float] = (0..<40).map { _ in
            var z = reference.normal()
            while abs(z) > tau { z = reference.normal() }
            return Float(z)
        }
        let z = LatentSampler.sample(seed: 77, size: 40, truncation: .resample(threshold: 0.5))
        assertClose(z, expected, tolerance: 1e-6)
        XCTAssertTrue(z.allSatisfy { abs($0) <= 0.5 })
    }

    func testValidation() {
        XCTAssertThrowsError(try Truncation.psi(0).validate())
        XCTAssertThrowsError(try Truncation.psi(1.5).validate())
        XCTAssertThrowsError(try Truncation.resample(threshold: 0).validate())
        XCTAssertNoThrow(try Truncation.psi(0.7).validate())
        XCTAssertThrowsError(try LatentPrior.uniform(low: 1, high: 1).validate())
        XCTAssertEqual(LatentPrior.normal.spread, -3...3)
        XCTAssertEqual(LatentPrior.uniform(low: -1, high: 1).spread, -1...1)
    }
}
