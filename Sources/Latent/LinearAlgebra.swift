import CBLAS
import Foundation

/// Eigenvalues and unit eigenvectors of a real symmetric matrix, eigenvalues descending.
/// Each eigenvector's sign is fixed so that its largest-magnitude component (lowest index on
/// ties) is positive.
public struct SymmetricEigen: Sendable {
    public var values: [Double]
    /// vectors[i] belongs to values[i].
    public var vectors: [[Double]]

    /// The `top` largest eigenpairs (all of them when nil) of the n x n symmetric matrix
    /// `matrix`, row-major (only its lower triangle is read). LAPACK's dsyevr (MRRR): it
    /// computes a subset of the eigenpairs with O(n) workspace, which GANSpace needs when it
    /// keeps K components of a D x D covariance. Throws `degenerate` if LAPACK does not converge.
    public static func decompose(_ matrix: [Double], n: Int, top: Int? = nil) throws -> SymmetricEigen {
        precondition(matrix.count == n * n, "a symmetric eigenproblem needs an n x n matrix")
        let count = min(top ?? n, n)
        precondition(count >= 0, "top must be non-negative")
        if n == 0 || count == 0 { return SymmetricEigen(values: [], vectors: []) }
        // Row-major lower = column-major upper; the matrix is symmetric, so either works.
        var a = matrix
        var nn = Int32(n), lda = Int32(n), ldz = Int32(n)
        var il = Int32(n - count + 1), iu = Int32(n)
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var found: Int32 = 0, info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * count)          // column-major (n, count)
        var isuppz = [Int32](repeating: 0, count: 2 * max(1, count))
        var workSize = 0.0, iworkSize: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        let jobz = "V", uplo = "U", range = count == n ? "A" : "I"
        func call(_ work: inout [Double], _ iwork: inout [Int32]) {
            dsyevr_(jobz, range, uplo, &nn, &a, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz,
                    &isuppz, &work, &lwork, &iwork, &liwork, &info, 1, 1, 1)
        }
        var queryWork = [workSize], queryIWork = [iworkSize]
        call(&queryWork, &queryIWork)
        workSize = queryWork[0]; iworkSize = queryIWork[0]
        lwork = Int32(workSize.rounded(.up)); liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
        call(&work, &iwork)
        guard info == 0, Int(found) == count else {
            throw LatentError.degenerate("the symmetric eigen-solver (LAPACK dsyevr) failed with info \(info)")
        }
        // dsyevr returns ascending eigenvalues; flip to descending.
        var values: [Double] = [], vectors: [[Double]] = []
        for j in stride(from: count - 1, through: 0, by: -1) {
            var col = Array(z[(j * n)..<((j + 1) * n)])
            var big = 0
            for i in 1..<n where abs(col[i]) > abs(col[big]) { big = i }
            if col[big] < 0 { col = col.map { -$0 } }
            values.append(w[j])
            vectors.append(col)
        }
        return SymmetricEigen(values: values, vectors: vectors)
    }

    /// All eigenpairs of a matrix given as rows. LAPACK fails only on non-finite input; then
    /// every value and vector component is NaN, as a plain-loop solver would give.
    public static func decompose(_ matrix: [[Double]]) -> SymmetricEigen {
        let n = matrix.count
        precondition(matrix.allSatisfy { $0.count == n }, "a symmetric eigenproblem needs a square matrix")
        if let e = try? decompose(matrix.flatMap { $0 }, n: n) { return e }
        return SymmetricEigen(values: [Double](repeating: .nan, count: n),
                              vectors: [[Double]](repeating: [Double](repeating: .nan, count: n), count: n))
    }
}

/// Minimum-norm least squares through LAPACK's dgelsd (SVD), which also handles rank-deficient
/// and underdetermined systems: singular values below `rcond` times the largest count as zero.
public enum LeastSquares {
    /// X (n, k) minimising |A X - B| for A (m, n) and B (m, k), all row-major.
    public static func solve(_ a: [Double], rows m: Int, columns n: Int, _ b: [Double], rightHandSides k: Int,
                             rcond: Double = 1e-12) throws -> [Double] {
        precondition(a.count == m * n && b.count == m * k, "least squares: A is (m, n), B is (m, k)")
        if n == 0 || k == 0 { return [] }
        let ldb = max(m, n)
        // Column-major copies; B is padded to max(m, n) rows because dgelsd returns X in it.
        var ac = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { ac[j * m + i] = a[i * n + j] } }
        var bc = [Double](repeating: 0, count: ldb * k)
        for i in 0..<m { for j in 0..<k { bc[j * ldb + i] = b[i * k + j] } }
        var mm = Int32(m), nn = Int32(n), nrhs = Int32(k), lda = Int32(max(1, m)), ldbi = Int32(ldb)
        var s = [Double](repeating: 0, count: max(1, min(m, n)))
        var rc = rcond, rank: Int32 = 0, info: Int32 = 0
        var lwork: Int32 = -1
        var query = [0.0], iquery: [Int32] = [0]
        dgelsd_(&mm, &nn, &nrhs, &ac, &lda, &bc, &ldbi, &s, &rc, &rank, &query, &lwork, &iquery, &info)
        guard info == 0 else { throw LatentError.degenerate("least squares (LAPACK dgelsd) workspace query failed with info \(info)") }
        lwork = Int32(query[0].rounded(.up))
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: max(1, Int(iquery[0])))
        dgelsd_(&mm, &nn, &nrhs, &ac, &lda, &bc, &ldbi, &s, &rc, &rank, &work, &lwork, &iwork, &info)
        guard info == 0 else {
            throw LatentError.degenerate("least squares (LAPACK dgelsd) did not converge (info \(info))")
        }
        var x = [Double](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { x[i * k + j] = bc[j * ldb + i] } }
        return x
    }
}
