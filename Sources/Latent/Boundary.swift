import Foundation

/// A linear boundary between latents that have an attribute and latents that lack it
/// (InterFaceGAN's attribute hyperplane), found in closed form: the least-squares linear
/// classifier. Labels +1 (with) and -1 (without) are regressed on [z, 1] by LAPACK's dgelsd;
/// the weight part, normalised, is the boundary's unit normal, pointing toward "with". With
/// fewer samples than latent dimensions the system is underdetermined and dgelsd's
/// minimum-norm solution is the one used.
public enum Boundary {
    public struct Result: Equatable, Sendable {
        /// Unit normal (Z), pointing from "without" toward "with".
        public var normal: [Float]
        /// The offset b of the hyperplane n . z + b = 0, in the units of the unit normal.
        public var offset: Double
        /// The share of the given latents on their own side of the boundary.
        public var accuracy: Double
    }

    public static func fit(with: [[Float]], without: [[Float]]) throws -> Result {
        guard !with.isEmpty, !without.isEmpty else {
            throw LatentError.invalidOption(
                "a boundary needs labelled latents of both classes (\(with.count) with the attribute, \(without.count) without); "
                + "give examples of each")
        }
        let size = with[0].count
        guard size >= 1, (with + without).allSatisfy({ $0.count == size }) else {
            throw LatentError.invalidOption("the latents for a boundary differ in size")
        }
        let rows = with + without, m = rows.count, n = size + 1
        var a = [Double](repeating: 0, count: m * n)                   // (M, Z + 1): [z, 1]
        for (r, z) in rows.enumerated() {
            for j in 0..<size { a[r * n + j] = Double(z[j]) }
            a[r * n + size] = 1
        }
        let b = (0..<m).map { $0 < with.count ? 1.0 : -1.0 }           // (M, 1)
        let x = try LeastSquares.solve(a, rows: m, columns: n, b, rightHandSides: 1)
        let w = Array(x[0..<size])
        let length = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard length > 1e-12, length.isFinite else {
            throw LatentError.degenerate("the two sets of latents are not separated along any direction (their means coincide); "
                                         + "give more or different examples")
        }
        let normal = w.map { Float($0 / length) }
        let offset = x[size] / length
        var right = 0
        for (r, z) in rows.enumerated() {
            let side = dot(z, normal) + offset
            if (r < with.count) == (side > 0) { right += 1 }
        }
        return Result(normal: normal, offset: offset, accuracy: Double(right) / Double(m))
    }
}
