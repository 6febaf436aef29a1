import Foundation

/// Per-dimension sweeps: for a base latent z and each chosen dimension i, replace z_i by each
/// of `values`. Row r of the grid is dimension `dimensions[r]`, column c is `values[c]`.
///
/// The default values cover the prior's whole `spread` (-3...3 for normal, low...high for
/// uniform) — not 0...1 as carpedm20/DCGAN-tensorflow's `visualize` did for a U(-1, 1) prior.
public struct Sweep: Sendable {
    public var base: [Float]
    public var dimensions: [Int]
    public var values: [Float]

    public init(base: [Float], dimensions: [Int], values: [Float]) throws {
        if let bad = dimensions.first(where: { $0 < 0 || $0 >= base.count }) {
            throw LatentError.invalidOption("sweep dimension \(bad) is outside 0..<\(base.count)")
        }
        guard !values.isEmpty else { throw LatentError.invalidOption("a sweep needs at least one value") }
        self.base = base
        self.dimensions = dimensions
        self.values = values
    }

    /// `steps` values evenly spaced across `prior.spread`, ends included.
    public init(base: [Float], dimensions: [Int], steps: Int, prior: LatentPrior) throws {
        guard steps >= 1 else { throw LatentError.invalidOption("a sweep needs at least 1 step, got \(steps)") }
        try self.init(base: base, dimensions: dimensions, values: Sweep.evenlySpaced(prior.spread, steps: steps))
    }

    /// lo + (hi - lo) i / (steps - 1) for i < steps; one step gives the middle of the range.
    public static func evenlySpaced(_ range: ClosedRange<Float>, steps: Int) -> [Float] {
        precondition(steps >= 1, "steps must be at least 1")
        let lo = Double(range.lowerBound), hi = Double(range.upperBound)
        if steps == 1 { return [Float((lo + hi) / 2)] }
        return (0..<steps).map { Float(lo + (hi - lo) * Double($0) / Double(steps - 1)) }
    }

    /// The grid, row-major: `dimensions.count` rows of `values.count` latents.
    public func latents() -> [[Float]] {
        var out: [[Float]] = []
        out.reserveCapacity(dimensions.count * values.count)
        for d in dimensions {
            for v in values {
                var z = base
                z[d] = v
                out.append(z)
            }
        }
        return out
    }

    /// What a dimension's images are compared with when ranking.
    public enum Score: Sendable {
        /// Mean over adjacent columns (c, c+1) of the mean absolute pixel difference.
        case adjacent
        /// Mean over columns of the mean absolute pixel difference from the base image.
        case versusBase([Float])
    }

    /// A dimension and how much its row of images changes.
    public struct Ranked: Equatable, Sendable {
        public var dimension: Int
        public var score: Double
    }

    /// Ranks dimensions by how much their images change. `rows[r]` holds the rendered images
    /// (flattened pixels, all of one length) for `dimensions[r]`. Sorted by score descending;
    /// equal scores keep ascending dimension order. A row with fewer than two images scores 0
    /// under `.adjacent`.
    public static func rank(dimensions: [Int], rows: [[[Float]]], score: Score = .adjacent) -> [Ranked] {
        precondition(dimensions.count == rows.count, "one row of images per dimension")
        func meanAbs(_ x: [Float], _ y: [Float]) -> Double {
            precondition(x.count == y.count, "images differ in size: \(x.count) and \(y.count)")
            guard !x.isEmpty else { return 0 }
            var s = 0.0
            for i in 0..<x.count { s += abs(Double(x[i]) - Double(y[i])) }
            return s / Double(x.count)
        }
        var ranked: [Ranked] = []
        for (d, images) in zip(dimensions, rows) {
            var total = 0.0, pairs = 0
            switch score {
            case .adjacent:
                for c in 0..<max(0, images.count - 1) { total += meanAbs(images[c], images[c + 1]); pairs += 1 }
            case .versusBase(let base):
                for image in images { total += meanAbs(image, base); pairs += 1 }
            }
            ranked.append(Ranked(dimension: d, score: pairs == 0 ? 0 : total / Double(pairs)))
        }
        return ranked.enumerated().sorted { l, r in
            if l.element.score != r.element.score { return l.element.score > r.element.score }
            if l.element.dimension != r.element.dimension { return l.element.dimension < r.element.dimension }
            return l.offset < r.offset
        }.map(\.element)
    }
}
