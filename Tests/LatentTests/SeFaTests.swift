import XCTest
import Tensor
@testable import Latent

final class SeFaTests: XCTestCase {
    func matVec(_ m: [[Double]], _ v: [Double]) -> [Double] { m.map { row in zip(row, v).reduce(0) { $0 + $1.0 * $1.1 } } }

    func testTwoByTwoClosedForm() throws {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/sqrt 2 and (1, -1)/sqrt 2.
        let e = SymmetricEigen.decompose([[2, 1], [1, 2]])
        assertClose(e.values[0], 3, tolerance: 1e-12)
        assertClose(e.values[1], 1, tolerance: 1e-12)
        let h = 0.5.squareRoot()
        for (x, y) in zip(e.vectors[0] + e.vectors[1], [h, h, h, -h]) { assertClose(x, y, tolerance: 1e-12) }
    }

    func testKnownDecompositionFromHouseholderReflection() throws {
        // Q = I - 2 w w^T (orthogonal, symmetric); A = Q diag(lambda) Q^T has eigenpairs (lambda_i, Q e_i).
        let w0 = [1.0, 2, 3, 4], wn = w0.map { $0 / 30.0.squareRoot() }
        let q = (0..<4).map { i in (0..<4).map { j in (i == j ? 1 : 0) - 2 * wn[i] * wn[j] } }
        let lambda = [5.0, 2, -1, 0.5]
        let a = (0..<4).map { i in (0..<4).map { j in (0..<4).reduce(0.0) { $0 + q[i][$1] * lambda[$1] * q[j][$1] } } }
        let e = SymmetricEigen.decompose(a)
        for (x, y) in zip(e.values, [5.0, 2, 0.5, -1]) { assertClose(x, y, tolerance: 1e-10) }
        for (k, original) in [0, 1, 3, 2].enumerated() {
            let column = (0..<4).map { q[$0][original] }
            assertClose(abs(zip(column, e.vectors[k]).reduce(0) { $0 + $1.0 * $1.1 }), 1, tolerance: 1e-10)
        }
    }

    func testRandomSymmetricMatrixResidualsAndOrthonormality() throws {
        var rng = SplitMix64(seed: 11)
        let n = 30
        var a = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n { for j in 0...i { let x = rng.nextNormal(); a[i][j] = x; a[j][i] = x } }
        let e = SymmetricEigen.decompose(a)
        XCTAssertEqual(e.values, e.values.sorted(by: >))
        assertClose(e.values.reduce(0, +), (0..<n).reduce(0) { $0 + a[$1][$1] }, tolerance: 1e-9)   // trace
        for k in 0..<n {
            let av = matVec(a, e.vectors[k])
            for i in 0..<n { assertClose(av[i], e.values[k] * e.vectors[k][i], tolerance: 1e-9) }
            for l in 0..<n {
                assertClose(zip(e.vectors[k], e.vectors[l]).reduce(0) { $0 + $1.0 * $1.1 }, k == l ? 1 : 0, tolerance: 1e-10)
            }
        }
    }

    func testSeFaDirectionsOfTwoUnitColumns() throws {
        // W (3, 2) with columns 3 (1, 0, 0) and 5 (cos a, sin a, 0). After column normalisation
        // W W^T = c1 c1^T + c2 c2^T: eigenvalues 1 + cos a, 1 - cos a, 0 with directions
        // (c1 + c2)/|.| and (c1 - c2)/|.|.
        let alpha = 0.6
        let c1 = [1.0, 0, 0], c2 = [cos(alpha), sin(alpha), 0]
        let w = Tensor(shape: [3, 2], data: (0..<3).flatMap { [Float(3 * c1[$0]), Float(5 * c2[$0])] })
        let e = try SeFa.directions(weight: w)
        assertClose(e.values[0], 1 + cos(alpha), tolerance: 1e-6)
        assertClose(e.values[1], 1 - cos(alpha), tolerance: 1e-6)
        assertClose(e.values[2], 0, tolerance: 1e-6)
        let plus = zip(c1, c2).map { $0 + $1 }, pn = plus.reduce(0) { $0 + $1 * $1 }.squareRoot()
        assertClose(abs(zip(e.vectors[0], plus).reduce(0) { $0 + $1.0 * $1.1 } / pn), 1, tolerance: 1e-6)
        XCTAssertThrowsError(try SeFa.directions(weight: Tensor(shape: [6], data: [Float](repeating: 1, count: 6))))
    }

    func testWeightLayouts() throws {
        // Linear (out 2, nz 3) -> (3, 2), transposed.
        let linear = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let w = try SeFa.weightMatrix(linear, layer: .linear)
        XCTAssertEqual(w.shape, [3, 2])
        assertClose(w.data, [1, 4, 2, 5, 3, 6], tolerance: 0)
        let conv = Tensor(zeros: [100, 8, 4, 4])
        XCTAssertEqual(try SeFa.weightMatrix(conv, layer: .convTranspose).shape, [100, 128])
        XCTAssertThrowsError(try SeFa.weightMatrix(linear, layer: .convTranspose))
    }
}
