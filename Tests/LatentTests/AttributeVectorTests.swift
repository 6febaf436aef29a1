import XCTest
import Tensor
@testable import Latent

final class AttributeVectorTests: XCTestCase {
    func testMeanDifference() throws {
        let v = try AttributeVectors.meanDifference(with: [[1, 2], [3, 4]], without: [[0, 0], [0, 1], [0, 2]])
        assertClose(v, [2, 2], tolerance: 1e-6)     // (2, 3) - (0, 1)
        XCTAssertThrowsError(try AttributeVectors.meanDifference(with: [], without: [[1]]))
    }

    /// Attribute A adds 3 to dimension 0, B adds 3 to dimension 1; dimensions 2..7 are noise.
    /// A and B are strongly correlated: cells (A, B) have 45, 40, 7 and 6 samples.
    func constructedSamples() -> (latents: [[Float]], labels: [[Bool]]) {
        var rng = SplitMix64(seed: 99)
        var latents: [[Float]] = [], labels: [[Bool]] = []
        for (a, b, count) in [(true, true, 45), (false, false, 40), (true, false, 7), (false, true, 6)] {
            for _ in 0..<count {
                let noise = (0..<6).map { _ in Float(rng.nextNormal()) }
                latents.append([a ? 3 : 0, b ? 3 : 0] + noise)
                labels.append([a, b])
            }
        }
        return (latents, labels)
    }

    func testBiasCorrectionRemovesCorrelatedAttribute() throws {
        let (latents, labels) = constructedSamples()
        let with = zip(latents, labels).filter { $0.1[0] }.map(\.0)
        let without = zip(latents, labels).filter { !$0.1[0] }.map(\.0)
        let plain = try AttributeVectors.meanDifference(with: with, without: without)
        // Plain: dimension 1 picks up 3 * (P(B | A) - P(B | not A)) = 3 * (45/52 - 6/46).
        let leak = 3 * (45.0 / 52.0 - 6.0 / 46.0)
        assertClose(Double(plain[1]), leak, tolerance: 1e-5)
        XCTAssertGreaterThan(plain[1], 2)
        assertClose(plain[0], 3, tolerance: 1e-5)

        let corrected = try AttributeVectors.biasCorrected(latents: latents, labels: labels)
        XCTAssertEqual(corrected.count, 2)
        // Balanced: every cell counts 45 times, so B is half present on both sides of A.
        assertClose(corrected[0].vector[0], 3, tolerance: 1e-5)
        assertClose(corrected[0].vector[1], 0, tolerance: 1e-5)
        assertClose(corrected[1].vector[0], 0, tolerance: 1e-5)
        assertClose(corrected[1].vector[1], 3, tolerance: 1e-5)
        XCTAssertEqual(corrected[0].cellSize, 45)
        XCTAssertTrue(corrected[0].emptyCells.isEmpty)
    }

    func testCyclicReplicationByHand() throws {
        // Has-cell [0, 3, 6] (mean 3); lacks-cell [0, 1] replicated cyclically to [0, 1, 0] (mean 1/3).
        let v = try AttributeVectors.biasCorrected(latents: [[0], [3], [6], [0], [1]],
                                                   labels: [[true], [true], [true], [false], [false]],
                                                   attribute: 0)
        assertClose(v.vector[0], 3 - 1.0 / 3.0, tolerance: 1e-6)
        XCTAssertEqual(v.cellSize, 3)
    }

    func testEmptyCellsAreSkippedAndReported() throws {
        // No sample lacks A but has B: cell (false, true) is empty.
        let latents: [[Float]] = [[1, 1], [1, 0], [0, 0], [0, 0]]
        let labels = [[true, true], [true, false], [false, false], [false, false]]
        let v = try AttributeVectors.biasCorrected(latents: latents, labels: labels)
        XCTAssertEqual(v[0].emptyCells, [[false, true]])
        // A: has cells {(1,1)}, {(1,0)} each to size 2; lacks {(0,0)}: means (1, 0.5) - (0, 0).
        assertClose(v[0].vector, [1, 0.5], tolerance: 1e-6)
        XCTAssertThrowsError(try AttributeVectors.biasCorrected(latents: [[1], [2]], labels: [[true], [true]]))
        XCTAssertThrowsError(try AttributeVectors.biasCorrected(latents: [[1], [2]], labels: [[true]]))
    }

    func testMoveToDistanceAndOrthogonalise() throws {
        let n = try AttributeVectors.normalised([3, 4, 0])
        let z: [Float] = [1, 2, 5]
        let moved = AttributeVectors.moveToDistance(z, normal: n, distance: -1.5)
        assertClose(AttributeVectors.signedDistance(moved, normal: n), -1.5, tolerance: 1e-5)
        // Only the component along n changes: z - moved is parallel to n.
        let delta = zip(z, moved).map { $0 - $1 }
        assertClose(abs(dot(delta, n)), norm(delta), tolerance: 1e-5)
        assertClose(moved[2], 5, tolerance: 1e-6)

        let s = Float(0.5.squareRoot())
        let conditional = try AttributeVectors.orthogonalise([s, s, 0], against: [1, 0, 0])
        assertClose(conditional, [0, 1, 0], tolerance: 1e-6)
        XCTAssertThrowsError(try AttributeVectors.orthogonalise([2, 0, 0], against: [1, 0, 0]))
        assertClose(AttributeVectors.apply([1, 1], vector: [2, -2], strength: 0.5), [2, 0], tolerance: 1e-6)
    }

    func testAnalogyGrid() {
        let a: [Float] = [0, 0], b: [Float] = [2, 0], c: [Float] = [0, 4]
        let grid = analogy(a, b, c, xs: [0, 0.5, 1], ys: [0, 1])
        XCTAssertEqual(grid.count, 6)
        let expected: [[Float]] = [[0, 0], [1, 0], [2, 0], [0, 4], [1, 4], [2, 4]]
        for (g, e) in zip(grid, expected) { assertClose(g, e, tolerance: 1e-6) }
        // Off-origin corner: A + x (B - A) + y (C - A).
        let g2 = analogy([1, 1], [3, 1], [1, 2], xs: [2], ys: [-1])
        assertClose(g2[0], [1 + 2 * 2, 1 - 1], tolerance: 1e-6)
    }
}
