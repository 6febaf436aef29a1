import CBLAS
import Foundation
import NN
import Tensor

/// The moments GANSpace needs, accumulated batch by batch so that memory is O(D^2 + D Z)
/// whatever the number of samples: sums of y, z, (y - s)(y - s)^T, (y - s) z^T and z z^T for
/// activations y (D) and latents z (Z), in Double. s is the first batch's mean activation,
/// subtracted so that the covariance does not cancel catastrophically.
public struct MomentAccumulator: Sendable {
    public let features: Int
    public let latentSize: Int
    public private(set) var count = 0
    var shift: [Double] = []
    var sumY: [Double]          // (D)
    var sumZ: [Double]          // (Z)
    var yy: [Double]            // (D, D), lower triangle filled
    var yz: [Double]            // (D, Z)
    var zz: [Double]            // (Z, Z), lower triangle filled

    public init(features: Int, latentSize: Int) {
        precondition(features >= 1 && latentSize >= 1, "moments need at least one feature and one latent value")
        self.features = features
        self.latentSize = latentSize
        sumY = [Double](repeating: 0, count: features)
        sumZ = [Double](repeating: 0, count: latentSize)
        yy = [Double](repeating: 0, count: features * features)
        yz = [Double](repeating: 0, count: features * latentSize)
        zz = [Double](repeating: 0, count: latentSize * latentSize)
    }

    /// Adds a batch: `activations` (B, D) and `latents` (B, Z), row-major.
    public mutating func add(activations: [Float], latents: [Float]) {
        let d = features, zSize = latentSize
        let b = latents.count / zSize
        precondition(latents.count == b * zSize && activations.count == b * d, "a batch is (B, D) activations and (B, Z) latents")
        guard b > 0 else { return }
        if shift.isEmpty {
            shift = [Double](repeating: 0, count: d)
            for r in 0..<b { for j in 0..<d { shift[j] += Double(activations[r * d + j]) } }
            for j in 0..<d { shift[j] /= Double(b) }
        }
        var y = [Double](repeating: 0, count: b * d)        // (B, D), shifted
        for r in 0..<b { for j in 0..<d { y[r * d + j] = Double(activations[r * d + j]) - shift[j] } }
        let z = latents.map(Double.init)                    // (B, Z)
        for r in 0..<b {
            for j in 0..<d { sumY[j] += y[r * d + j] }
            for j in 0..<zSize { sumZ[j] += z[r * zSize + j] }
        }
        let (bi, di, zi) = (Int32(b), Int32(d), Int32(zSize))
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, di, bi, 1, y, di, 1, &yy, di)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, di, zi, bi, 1, y, di, z, zi, 1, &yz, zi)
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, zi, bi, 1, z, zi, 1, &zz, zi)
        count += b
    }

    /// Sample covariance (divisor N - 1) from a lower-triangle sum of outer products, with the
    /// sum of the vectors and their count; both triangles filled.
    static func covariance(_ outer: [Double], sum: [Double], count: Int) -> [Double] {
        let n = sum.count, total = Double(count)
        var c = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                let v = (outer[i * n + j] - sum[i] * sum[j] / total) / (total - 1)
                c[i * n + j] = v
                c[j * n + i] = v
            }
        }
        return c
    }
}

/// GANSpace (Härkönen et al. 2020): PCA of a layer's activations over latents from the prior,
/// each principal component carried back to the latent space by least squares.
public enum GANSpace {
    /// One principal component and its latent direction.
    public struct Component: Sendable {
        /// The principal axis in activation space, unit (D).
        public var axis: [Float]
        /// Its variance (divisor N - 1).
        public var variance: Double
        /// variance / total variance of the activations.
        public var varianceRatio: Double
        /// The regressed latent direction, unit (Z).
        public var direction: [Float]
        /// The samples' standard deviation along `direction`.
        public var sigma: Double
    }

    /// The largest activation size whose D x D covariance (Double, 512 MiB at 8192) is
    /// accumulated; beyond it GANSpace refuses and suggests an earlier layer.
    public static let maxFeatures = 8192
    /// The most latents GANSpace draws.
    public static let maxSamples = 1_000_000

    /// The first `top` components (at most min(D, Z, N - 1), fewer if the activations have
    /// fewer nonzero variances) from the accumulated moments.
    ///
    /// PCA: the eigenvectors v_k of the activations' covariance, variances descending. The
    /// regression: with PCA coordinates c = V (y - mean), U minimises sum |U c - z|^2, so
    /// (C^T C) U^T = C^T Z, where C^T C = (N - 1) V Cov V^T and C^T Z = V sum (y - mean) z^T,
    /// both from the moments; dgelsd solves it. Direction k is row k of U^T, normalised, and its
    /// sigma is sqrt(u^T Cov_z u).
    public static func components(_ m: MomentAccumulator, top: Int) throws -> [Component] {
        let n = m.count, d = m.features, zSize = m.latentSize
        guard n >= 2 else { throw LatentError.invalidOption("GANSpace needs at least 2 samples, got \(n)") }
        let cov = MomentAccumulator.covariance(m.yy, sum: m.sumY, count: n)          // (D, D)
        let total = (0..<d).reduce(0.0) { $0 + cov[$1 * d + $1] }
        guard total > 0, total.isFinite else {
            throw LatentError.degenerate("the activations do not vary over the samples: there is nothing to factorise; try another --layer")
        }
        let wanted = min(top, d, zSize, n - 1)
        let eigen = try SymmetricEigen.decompose(cov, n: d, top: wanted)
        let kept = eigen.values.prefix { $0 > 1e-10 * max(eigen.values[0], 0) }.count
        guard kept > 0 else { throw LatentError.degenerate("the activations' covariance has no positive variance; try another --layer") }
        let v = eigen.vectors.prefix(kept).flatMap { $0 }                              // (K, D)
        let k = kept
        // C^T C = (N - 1) V Cov V^T (K, K)
        var vc = [Double](repeating: 0, count: k * d)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(k), Int32(d), Int32(d), 1, v, Int32(d), cov, Int32(d), 0, &vc, Int32(d))
        var gram = [Double](repeating: 0, count: k * k)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(k), Int32(k), Int32(d), Double(n - 1), vc, Int32(d), v, Int32(d), 0, &gram, Int32(k))
        // sum (y - mean) z^T = yz - sumY sumZ^T / N (D, Z); C^T Z = V that (K, Z)
        var cross = m.yz
        for i in 0..<d { for j in 0..<zSize { cross[i * zSize + j] -= m.sumY[i] * m.sumZ[j] / Double(n) } }
        var rhs = [Double](repeating: 0, count: k * zSize)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(k), Int32(zSize), Int32(d), 1, v, Int32(d), cross, Int32(zSize), 0, &rhs, Int32(zSize))
        let ut = try LeastSquares.solve(gram, rows: k, columns: k, rhs, rightHandSides: zSize)  // (K, Z)
        let covZ = MomentAccumulator.covariance(m.zz, sum: m.sumZ, count: n)            // (Z, Z)
        return try (0..<k).map { c in
            let u = Array(ut[(c * zSize)..<((c + 1) * zSize)])
            let length = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard length > 0, length.isFinite else {
                throw LatentError.degenerate("principal component \(c) has no latent direction (the latents do not predict it)")
            }
            let unit = u.map { $0 / length }
            var spread = 0.0
            for i in 0..<zSize { for j in 0..<zSize { spread += unit[i] * covZ[i * zSize + j] * unit[j] } }
            return Component(axis: eigen.vectors[c].map { Float($0) }, variance: eigen.values[c],
                             varianceRatio: eigen.values[c] / total, direction: unit.map { Float($0) },
                             sigma: max(spread, 0).squareRoot())
        }
    }

    /// The default layer: the first activation after the first layer with weights.
    public static func defaultLayer(of generator: Generator) -> Int? {
        guard let first = generator.layers.firstIndex(where: { $0.parameterCount > 0 && !$0.isBatchNorm }) else { return nil }
        return generator.layers[(first + 1)...].firstIndex { if case .activation = $0 { return true } else { return false } }
    }

    /// The generator cut after `layer` (0-based, as `forger info` numbers layers), batch norms
    /// folded: its output is that layer's activations.
    public static func prefix(of generator: Generator, through layer: Int, modelName: String) throws -> Generator {
        guard generator.layers.indices.contains(layer) else {
            throw LatentError.invalidOption(
                "--layer \(layer): '\(modelName)' has layers 0 to \(generator.layers.count - 1) (see forger info \(modelName))")
        }
        let features = generator.shapes[layer].reduce(1, *)
        guard features <= maxFeatures else {
            throw LatentError.invalidOption(
                "--layer \(layer) of '\(modelName)' has \(features) activations per sample; GANSpace keeps a D x D covariance "
                + "and takes at most \(maxFeatures): pick an earlier layer (forger info \(modelName) lists their sizes)")
        }
        return try Generator(latentSize: generator.latentSize, inputShape: generator.inputShape,
                             conditioning: generator.conditioning, layers: Array(generator.layers[0...layer])).foldingBatchNorm()
    }

    /// Runs `samples` latents through `prefix` in batches of `batchSize`, accumulating their
    /// moments. `latents(range)` gives the latents of samples `range` as (B, Z) row-major;
    /// `progress(done)` is told after each batch.
    public static func accumulate(prefix: Generator, samples: Int, batchSize: Int, labels: Int?,
                                  latents: (Range<Int>) -> [Float], progress: (Int) -> Void = { _ in }) -> MomentAccumulator {
        precondition(samples >= 0 && batchSize >= 1, "samples and batch size must be positive")
        let zSize = prefix.latentSize
        var m = MomentAccumulator(features: prefix.outputShape.reduce(1, *), latentSize: zSize)
        var start = 0
        while start < samples {
            let end = min(samples, start + batchSize)
            let z = latents(start..<end)                                                   // (B, Z)
            let y = prefix.forward(Tensor(shape: [end - start, zSize], data: z),
                                   labels: labels.map { [Int](repeating: $0, count: end - start) })
            m.add(activations: y.data, latents: z)
            start = end
            progress(end)
        }
        return m
    }
}

extension Layer {
    var isBatchNorm: Bool { if case .batchNorm = self { return true } else { return false } }
}
