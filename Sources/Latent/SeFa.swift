import Foundation
import Tensor

/// Eigenvalues and unit eigenvectors of a real symmetric matrix, eigenvalues descending.
/// Each eigenvector's sign is fixed so that its largest-magnitude component (lowest index on
/// ties) is positive.
public struct SymmetricEigen: Sendable {
    public var values: [Double]
    /// vectors[i] belongs to values[i].
    public var vectors: [[Double]]

    /// Cyclic Jacobi rotations (fine up to a few hundred rows). Stops when the off-diagonal
    /// Frobenius norm falls below 1e-13 of the matrix's, or after 100 sweeps. The input must be
    /// square and symmetric (checked to 1e-9 relative).
    public static func decompose(_ matrix: [[Double]]) -> SymmetricEigen {
        let n = matrix.count
        precondition(matrix.allSatisfy { $0.count == n }, "a symmetric eigenproblem needs a square matrix")
        if n == 0 { return SymmetricEigen(values: [], vectors: []) }
        var a = matrix.flatMap { $0 }
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let total = a.reduce(0) { $0 + $1 * $1 }
        for i in 0..<n {
            for j in 0..<i {
                precondition(abs(a[i * n + j] - a[j * n + i]) <= 1e-9 * max(total.squareRoot(), 1e-300),
                             "matrix is not symmetric at (\(i), \(j))")
            }
        }
        a.withUnsafeMutableBufferPointer { a in
            v.withUnsafeMutableBufferPointer { v in
                for _ in 0..<100 {
                    var off = 0.0
                    for i in 0..<n { for j in 0..<n where j != i { off += a[i * n + j] * a[i * n + j] } }
                    if off <= 1e-26 * total || off == 0 { break }
                    for p in 0..<(n - 1) {
                        for q in (p + 1)..<n {
                            let apq = a[p * n + q]
                            if apq == 0 { continue }
                            let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                            let t = abs(theta) > 1e150 ? 1 / (2 * theta)
                                : (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                            let c = 1 / (t * t + 1).squareRoot(), s = t * c
                            for k in 0..<n {           // columns p, q of A
                                let akp = a[k * n + p], akq = a[k * n + q]
                                a[k * n + p] = c * akp - s * akq
                                a[k * n + q] = s * akp + c * akq
                            }
                            for k in 0..<n {           // rows p, q of A
                                let apk = a[p * n + k], aqk = a[q * n + k]
                                a[p * n + k] = c * apk - s * aqk
                                a[q * n + k] = s * apk + c * aqk
                            }
                            a[p * n + q] = 0
                            a[q * n + p] = 0
                            for k in 0..<n {           // columns p, q of V
                                let vkp = v[k * n + p], vkq = v[k * n + q]
                                v[k * n + p] = c * vkp - s * vkq
                                v[k * n + q] = s * vkp + c * vkq
                            }
                        }
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] != a[$1 * n + $1] ? a[$0 * n + $0] > a[$1 * n + $1] : $0 < $1 }
        let vectors: [[Double]] = order.map { j in
            var col = (0..<n).map { v[$0 * n + j] }
            var big = 0
            for i in 1..<n where abs(col[i]) > abs(col[big]) { big = i }
            if col[big] < 0 { col = col.map { -$0 } }
            return col
        }
        return SymmetricEigen(values: order.map { a[$0 * n + $0] }, vectors: vectors)
    }
}

/// SeFa, closed-form factorization (Shen and Zhou 2021): the latent directions the first layer
/// is most sensitive to are the top eigenvectors of W W^T, with W (Z, K) holding one row per
/// latent dimension.
public enum SeFa {
    /// How the first layer stores its weight.
    public enum FirstLayer: Sendable {
        /// ConvTranspose2d(nz, C, kH, kW): weight (Z, C, kH, kW), reshaped to (Z, C kH kW).
        case convTranspose
        /// Linear(nz -> out): weight (out, Z), transposed to (Z, out).
        case linear
    }

    /// The weight as W (Z, K), one row per latent dimension.
    public static func weightMatrix(_ weight: Tensor, layer: FirstLayer) throws -> Tensor {
        switch layer {
        case .convTranspose:
            guard weight.shape.count == 4 else {
                throw LatentError.invalidOption("a ConvTranspose2d weight is (nz, C, kH, kW), got shape \(weight.shape)")
            }
            return weight.reshaped([weight.shape[0], weight.shape[1] * weight.shape[2] * weight.shape[3]])  // (Z, K)
        case .linear:
            guard weight.shape.count == 2 else {
                throw LatentError.invalidOption("a Linear weight is (out, nz), got shape \(weight.shape)")
            }
            let out = weight.shape[0], nz = weight.shape[1]
            var t = [Float](repeating: 0, count: out * nz)
            for o in 0..<out { for z in 0..<nz { t[z * out + o] = weight.data[o * nz + z] } }
            return Tensor(shape: [nz, out], data: t)  // (Z, K)
        }
    }

    /// Eigen-decomposition of W W^T for W (Z, K), descending. With `normaliseColumns` (as the
    /// reference code does) each column of W is first scaled to unit norm (zero columns are left
    /// as they are). `directions.vectors[i]` is direction i, a unit latent vector.
    public static func directions(weight: Tensor, normaliseColumns: Bool = true) throws -> SymmetricEigen {
        guard weight.shape.count == 2, weight.shape[0] >= 1 else {
            throw LatentError.invalidOption("SeFa needs W as (nz, K), got shape \(weight.shape)")
        }
        let nz = weight.shape[0], k = weight.shape[1]
        var w = weight.data.map(Double.init)            // (Z, K)
        if normaliseColumns {
            for j in 0..<k {
                var s = 0.0
                for i in 0..<nz { s += w[i * k + j] * w[i * k + j] }
                guard s > 0 else { continue }
                let inv = 1 / s.squareRoot()
                for i in 0..<nz { w[i * k + j] *= inv }
            }
        }
        var g = [[Double]](repeating: [Double](repeating: 0, count: nz), count: nz)   // (Z, Z)
        for i in 0..<nz {
            for j in i..<nz {
                var s = 0.0
                for c in 0..<k { s += w[i * k + c] * w[j * k + c] }
                g[i][j] = s
                g[j][i] = s
            }
        }
        return SymmetricEigen.decompose(g)
    }
}
