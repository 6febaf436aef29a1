import Foundation

/// A bias-corrected attribute vector and how it was balanced.
public struct BalancedVector: Equatable, Sendable {
    public var vector: [Float]
    /// The size every nonempty cell was replicated to (the largest cell's size).
    public var cellSize: Int
    /// Attribute combinations (one Bool per attribute) with no samples. They are skipped: the
    /// balanced set then under-represents those combinations, so correlation through them is
    /// not removed. Report them to the user.
    public var emptyCells: [[Bool]]
}

/// Attribute vectors from labelled latents, and ways to apply them.
public enum AttributeVectors {
    /// v = mean(with) - mean(without).
    public static func meanDifference(with: [[Float]], without: [[Float]]) throws -> [Float] {
        guard !with.isEmpty, !without.isEmpty else {
            throw LatentError.invalidOption(
                "a mean difference needs latents on both sides (\(with.count) with, \(without.count) without)")
        }
        let size = with[0].count
        guard (with + without).allSatisfy({ $0.count == size }) else {
            throw LatentError.invalidOption("the latents for a mean difference differ in size")
        }
        return combine(1, meanVector(with), -1, meanVector(without))
    }

    /// Tom White's bias-corrected vectors (plat `atvec.py`) for every attribute at once.
    ///
    /// `labels[s][j]` says whether sample s has attribute j (k attributes, k <= 16). Samples are
    /// split into the 2^k cells of attribute combinations; each nonempty cell of n samples is
    /// replicated cyclically up to the largest cell's size M (its samples in order, repeated,
    /// the first M mod n once more); then vector j = mean(has j) - mean(lacks j) on that balanced
    /// set. Empty cells are skipped and reported. Throws if, after balancing, no sample has or
    /// no sample lacks some attribute.
    public static func biasCorrected(latents: [[Float]], labels: [[Bool]]) throws -> [BalancedVector] {
        guard !latents.isEmpty, latents.count == labels.count else {
            throw LatentError.invalidOption(
                "bias correction needs one label row per latent (\(latents.count) latents, \(labels.count) label rows)")
        }
        let k = labels[0].count, size = latents[0].count
        guard k >= 1, k <= 16, labels.allSatisfy({ $0.count == k }) else {
            throw LatentError.invalidOption("every label row must have the same 1...16 attributes")
        }
        guard latents.allSatisfy({ $0.count == size }) else {
            throw LatentError.invalidOption("the latents for bias correction differ in size")
        }
        // cell index: bit j set when attribute j is present.
        var cells = [[Int]](repeating: [], count: 1 << k)
        for (s, row) in labels.enumerated() {
            var index = 0
            for j in 0..<k where row[j] { index |= 1 << j }
            cells[index].append(s)
        }
        let m = cells.map(\.count).max()!
        // The balanced set as a weighted sum: sample at position p of an n-cell counts
        // floor(M / n) + (p < M mod n ? 1 : 0) times.
        var cellSums = [[Double]](repeating: [Double](repeating: 0, count: size), count: cells.count)
        var emptyCells: [[Bool]] = []
        for (c, members) in cells.enumerated() {
            let n = members.count
            if n == 0 {
                emptyCells.append((0..<k).map { c & (1 << $0) != 0 })
                continue
            }
            for (p, s) in members.enumerated() {
                let w = Double(m / n + (p < m % n ? 1 : 0))
                for i in 0..<size { cellSums[c][i] += w * Double(latents[s][i]) }
            }
        }
        return try (0..<k).map { j in
            var has = [Double](repeating: 0, count: size), lacks = has
            var nHas = 0, nLacks = 0
            for (c, members) in cells.enumerated() where !members.isEmpty {
                if c & (1 << j) != 0 {
                    nHas += m
                    for i in 0..<size { has[i] += cellSums[c][i] }
                } else {
                    nLacks += m
                    for i in 0..<size { lacks[i] += cellSums[c][i] }
                }
            }
            guard nHas > 0, nLacks > 0 else {
                throw LatentError.invalidOption(
                    "attribute \(j): no sample \(nHas == 0 ? "has" : "lacks") it, so it has no vector")
            }
            let v = (0..<size).map { Float(has[$0] / Double(nHas) - lacks[$0] / Double(nLacks)) }
            return BalancedVector(vector: v, cellSize: m, emptyCells: emptyCells)
        }
    }

    /// The bias-corrected vector of attribute `attribute` alone.
    public static func biasCorrected(latents: [[Float]], labels: [[Bool]], attribute: Int) throws -> BalancedVector {
        let all = try biasCorrected(latents: latents, labels: labels)
        guard all.indices.contains(attribute) else {
            throw LatentError.invalidOption("attribute \(attribute) is outside 0..<\(all.count)")
        }
        return all[attribute]
    }

    /// z + s v.
    public static func apply(_ z: [Float], vector v: [Float], strength s: Float) -> [Float] {
        combine(1, z, Double(s), v)
    }

    /// Signed distance z . n of z from the boundary with unit normal n.
    public static func signedDistance(_ z: [Float], normal n: [Float]) -> Float { Float(dot(z, n)) }

    /// InterFaceGAN: z + (d - z . n) n, the point at signed distance d from the boundary with
    /// unit normal n (n is used as given; normalise it first).
    public static func moveToDistance(_ z: [Float], normal n: [Float], distance d: Float) -> [Float] {
        combine(1, z, Double(d) - dot(z, n), n)
    }

    /// Conditional editing: (n - (n . c) c) / |.| moves along n while keeping the attribute with
    /// unit normal c fixed. Throws when n is (nearly) parallel to c.
    public static func orthogonalise(_ n: [Float], against c: [Float]) throws -> [Float] {
        guard n.count == c.count else {
            throw LatentError.invalidOption("normals differ in size: \(n.count) and \(c.count)")
        }
        let p = combine(1, n, -dot(n, c), c)
        let pn = norm(p)
        guard pn > 1e-6 * max(norm(n), 1e-30) else {
            throw LatentError.degenerate("the two attribute normals are parallel: nothing is left after removing one from the other")
        }
        return scaled(p, 1 / pn)
    }

    /// v / |v|; throws for the zero vector.
    public static func normalised(_ v: [Float]) throws -> [Float] {
        let n = norm(v)
        guard n > 0, n.isFinite else { throw LatentError.degenerate("cannot normalise a zero or non-finite vector") }
        return scaled(v, 1 / n)
    }
}

/// An analogy grid ("J-diagram") with corners A, B, C: cell (x, y) is A + x (B - A) + y (C - A).
/// Row-major by y: the result holds ys.count rows of xs.count latents.
public func analogy(_ a: [Float], _ b: [Float], _ c: [Float], xs: [Float], ys: [Float]) -> [[Float]] {
    precondition(a.count == b.count && a.count == c.count, "analogy corners differ in size")
    var out: [[Float]] = []
    out.reserveCapacity(xs.count * ys.count)
    for y in ys {
        for x in xs {
            let xd = Double(x), yd = Double(y)
            out.append((0..<a.count).map { i in
                let ai = Double(a[i])
                return Float(ai + xd * (Double(b[i]) - ai) + yd * (Double(c[i]) - ai))
            })
        }
    }
    return out
}
