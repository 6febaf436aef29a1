import XCTest
@testable import Latent

final class SweepTests: XCTestCase {
    func testDefaultValuesCoverThePriorsSpread() throws {
        let normal = try Sweep(base: [0, 0, 0], dimensions: [1], steps: 7, prior: .normal)
        assertClose(normal.values, [-3, -2, -1, 0, 1, 2, 3], tolerance: 1e-6)
        // U(-1, 1): the sweep covers -1..1, not DCGAN-tensorflow's 0..1.
        let uniform = try Sweep(base: [0, 0, 0], dimensions: [1], steps: 5, prior: .uniform(low: -1, high: 1))
        assertClose(uniform.values, [-1, -0.5, 0, 0.5, 1], tolerance: 1e-6)
        assertClose(Sweep.evenlySpaced(0...1, steps: 1), [0.5], tolerance: 0)
    }

    func testGridIsRowMajorOneRowPerDimension() throws {
        let base: [Float] = [0.1, 0.2, 0.3, 0.4]
        let sweep = try Sweep(base: base, dimensions: [2, 0], values: [-1, 0, 1])
        let grid = sweep.latents()
        XCTAssertEqual(grid.count, 6)
        for (r, d) in [2, 0].enumerated() {
            for (c, value) in [Float(-1), 0, 1].enumerated() {
                var expected = base
                expected[d] = value
                assertClose(grid[r * 3 + c], expected, tolerance: 0, "row \(r) column \(c)")
            }
        }
        XCTAssertThrowsError(try Sweep(base: base, dimensions: [4], values: [1]))
        XCTAssertThrowsError(try Sweep(base: base, dimensions: [-1], values: [1]))
    }

    func testRankingByMeanAbsoluteChange() {
        // Images of 4 pixels; each row's images change by a fixed amount per column.
        func row(_ step: Float) -> [[Float]] { (0..<5).map { c in [Float](repeating: Float(c) * step, count: 4) } }
        let dims = [9, 2, 5, 1]
        let rows = [row(0.3), row(0.1), row(0.3), row(0)]
        let ranked = Sweep.rank(dimensions: dims, rows: rows)
        XCTAssertEqual(ranked.map(\.dimension), [5, 9, 2, 1])     // tie 0.3 broken by dimension index
        assertClose(ranked.map { Float($0.score) }, [0.3, 0.3, 0.1, 0], tolerance: 1e-6)
        // Against a base image of zeros: mean over columns of c * step = 2 * step.
        let versus = Sweep.rank(dimensions: dims, rows: rows, score: .versusBase([0, 0, 0, 0]))
        assertClose(versus.map { Float($0.score) }, [0.6, 0.6, 0.2, 0], tolerance: 1e-6)
        XCTAssertEqual(versus.map(\.dimension), [5, 9, 2, 1])
    }
}
