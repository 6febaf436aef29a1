import Foundation
import Tensor
import Latent

/// Mean and covariance of a feature set, in Double: what the Fréchet distance compares.
public struct FeatureStatistics: Equatable, Sendable {
    public var count: Int
    public var mean: [Double]
    /// (F, F), unbiased (divided by N - 1), as numpy.cov and pytorch-fid compute it.
    public var covariance: [[Double]]

    /// Statistics of features (N, F); N >= 2.
    public init(features: Tensor) {
        precondition(features.rank == 2 && features.shape[0] >= 2, "feature statistics need (N, F) with N >= 2, got \(features.shape)")
        let (n, f) = (features.shape[0], features.shape[1])
        var mean = [Double](repeating: 0, count: f)
        for i in 0..<n { for j in 0..<f { mean[j] += Double(features.data[i * f + j]) } }
        for j in 0..<f { mean[j] /= Double(n) }
        // Upper triangle, accumulated from centred rows, then mirrored.
        var cov = [Double](repeating: 0, count: f * f)
        var centred = [Double](repeating: 0, count: f)
        for i in 0..<n {
            for j in 0..<f { centred[j] = Double(features.data[i * f + j]) - mean[j] }
            for a in 0..<f {
                let ca = centred[a]
                if ca == 0 { continue }
                for b in a..<f { cov[a * f + b] += ca * centred[b] }
            }
        }
        var rows = [[Double]](repeating: [Double](repeating: 0, count: f), count: f)
        for a in 0..<f { for b in a..<f {
            let v = cov[a * f + b] / Double(n - 1)
            rows[a][b] = v; rows[b][a] = v
        } }
        self.count = n; self.mean = mean; self.covariance = rows
    }

    public init(count: Int, mean: [Double], covariance: [[Double]]) {
        self.count = count; self.mean = mean; self.covariance = covariance
    }
}

/// The Fréchet distance between two Gaussians fitted to feature sets (Heusel et al. 2017, FID):
/// |m1 - m2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2).
/// The square roots come from LAPACK eigen decompositions of symmetric PSD matrices (negative
/// eigenvalues from rounding are clipped to 0), so no complex parts arise as with scipy's sqrtm.
public enum FrechetDistance {
    public static func distance(_ a: FeatureStatistics, _ b: FeatureStatistics) -> Double {
        let f = a.mean.count
        precondition(b.mean.count == f, "feature sizes differ: \(f) and \(b.mean.count)")
        var meanTerm = 0.0
        for j in 0..<f { meanTerm += (a.mean[j] - b.mean[j]) * (a.mean[j] - b.mean[j]) }
        let root1 = squareRoot(a.covariance)
        let m = symmetrised(multiply(multiply(root1, b.covariance), root1))
        let traceRoot = SymmetricEigen.decompose(m).values.reduce(0) { $0 + max(0, $1).squareRoot() }
        let trace1 = (0..<f).reduce(0) { $0 + a.covariance[$1][$1] }
        let trace2 = (0..<f).reduce(0) { $0 + b.covariance[$1][$1] }
        return meanTerm + trace1 + trace2 - 2 * traceRoot
    }

    /// The PSD square root V diag(sqrt(max(0, l))) V^T of a symmetric matrix.
    public static func squareRoot(_ s: [[Double]]) -> [[Double]] {
        let n = s.count
        let e = SymmetricEigen.decompose(symmetrised(s))
        var out = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for (value, v) in zip(e.values, e.vectors) {
            let r = max(0, value).squareRoot()
            if r == 0 { continue }
            for i in 0..<n { let ri = r * v[i]; for j in 0..<n { out[i][j] += ri * v[j] } }
        }
        return out
    }

    static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        let n = a.count, m = b[0].count, k = b.count
        var out = [[Double]](repeating: [Double](repeating: 0, count: m), count: n)
        for i in 0..<n { for p in 0..<k {
            let aip = a[i][p]
            if aip == 0 { continue }
            for j in 0..<m { out[i][j] += aip * b[p][j] }
        } }
        return out
    }

    static func symmetrised(_ a: [[Double]]) -> [[Double]] {
        let n = a.count
        var out = a
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { let v = (a[i][j] + a[j][i]) / 2; out[i][j] = v; out[j][i] = v } }
        return out
    }
}
