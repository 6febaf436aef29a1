// Tools/eigen_bench.sh builds this with the Jacobi and LAPACK solvers and runs it.
import Foundation
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
for n in [16, 100, 256] {
    var s: UInt64 = 7
    func r() -> Double { s = s &* 6364136223846793005 &+ 1442695040888963407; return Double(s >> 11) / Double(1 << 53) - 0.5 }
    // a Gram matrix like SeFa's: W W^T with W (n, 2n)
    let k = 2 * n
    let w = (0..<(n * k)).map { _ in r() }
    var g = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { var t = 0.0; for c in 0..<k { t += w[i*k+c]*w[j*k+c] }; g[i*n+j] = t } }
    let rows = (0..<n).map { Array(g[($0*n)..<(($0+1)*n)]) }
    var t0 = now(); let a = Jacobi.decompose(rows); let tj = now() - t0
    t0 = now(); var b: SymmetricEigen! = nil; let reps = 20; for _ in 0..<reps { b = try! SymmetricEigen.decompose(g, n: n) }; let tl = (now() - t0) / Double(reps)
    let dv = zip(a.values, b.values).map { abs($0 - $1) / max(abs($0), 1e-300) }.max()!
    print("n \(n): jacobi \(String(format: "%.4f", tj)) s, dsyevr \(String(format: "%.5f", tl)) s, max rel eigenvalue diff \(dv)")
}
