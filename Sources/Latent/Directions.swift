import Foundation
import ModelIO
import NN
import Tensor

/// A latent direction found by `Directions`: a unit vector, named `<prefix>-<rank>` (or the
/// boundary's own name), with its method and score.
public struct DiscoveredDirection: Equatable, Sendable {
    public var name: String
    /// Unit (Z).
    public var vector: [Float]
    public var method: VectorLibrary.Method
    public var info: VectorLibrary.DirectionInfo
}

/// Direction discovery: SeFa, GANSpace and labelled boundaries, each returning unit latent
/// directions, most important first.
public enum Directions {
    /// SeFa on the generator's first layer: every eigenvector of W W^T (columns of W
    /// normalised), eigenvalues descending; sigma is the prior's spread along a unit vector.
    public static func sefa(_ generator: Generator, modelName: String, prior: LatentPrior, truncation: Truncation = .none,
                            prefix: String = "sefa") throws -> [DiscoveredDirection] {
        let w = try SeFa.weightMatrix(of: generator, modelName: modelName)            // (Z, K)
        let eigen = try SeFa.directions(weight: w)
        let sigma = priorSigma(prior, truncation)
        return eigen.values.indices.map { k in
            DiscoveredDirection(name: "\(prefix)-\(k)", vector: eigen.vectors[k].map { Float($0) }, method: .sefa,
                                info: .init(rank: k, eigenvalue: eigen.values[k], sigma: sigma))
        }
    }

    /// What GANSpace samples and where it looks.
    public struct GANSpaceRequest: Sendable {
        /// Layer index as `forger info` numbers them; nil for `GANSpace.defaultLayer`.
        public var layer: Int?
        public var samples: Int
        /// Sample i is the latent of seed `seed + i`.
        public var seed: UInt64
        public var prior: LatentPrior
        public var truncation: Truncation
        /// The class of a conditional model.
        public var label: Int?
        public var batchSize: Int

        public init(layer: Int? = nil, samples: Int = 10_000, seed: UInt64 = 0, prior: LatentPrior = .normal,
                    truncation: Truncation = .none, label: Int? = nil, batchSize: Int = 256) {
            self.layer = layer; self.samples = samples; self.seed = seed; self.prior = prior
            self.truncation = truncation; self.label = label; self.batchSize = batchSize
        }

        /// Checks the sizes before anything is allocated.
        public func validate() throws {
            guard samples >= 2, samples <= GANSpace.maxSamples else {
                throw LatentError.invalidOption("--samples \(samples): GANSpace needs 2 to \(GANSpace.maxSamples) samples")
            }
            guard batchSize >= 1, batchSize <= 4096 else {
                throw LatentError.invalidOption("--batch-size \(batchSize): use 1 to 4096")
            }
        }
    }

    /// The layer GANSpace will read for `request` on `generator` (explicit or default).
    public static func ganspaceLayer(_ generator: Generator, _ request: GANSpaceRequest, modelName: String) throws -> Int {
        if let layer = request.layer { return layer }
        guard let layer = GANSpace.defaultLayer(of: generator) else {
            throw LatentError.invalidOption("'\(modelName)' has no activation after its first layer; give --layer (see forger info \(modelName))")
        }
        return layer
    }

    /// GANSpace on latents from the prior (seeds `seed`, `seed + 1`, ...).
    public static func ganspace(_ generator: Generator, modelName: String, request: GANSpaceRequest, prefix: String = "ganspace",
                                progress: (Int) -> Void = { _ in }) throws -> [DiscoveredDirection] {
        try request.validate()
        let size = generator.latentSize
        return try ganspace(generator, modelName: modelName, request: request, prefix: prefix, progress: progress) { range in
            range.flatMap { LatentSampler.sample(seed: request.seed, index: $0, size: size, prior: request.prior,
                                                 truncation: request.truncation) }
        }
    }

    /// GANSpace on given latents: `latents(range)` returns samples `range` as (B, Z) row-major.
    public static func ganspace(_ generator: Generator, modelName: String, request: GANSpaceRequest, prefix: String = "ganspace",
                                progress: (Int) -> Void = { _ in }, latents: (Range<Int>) -> [Float]) throws -> [DiscoveredDirection] {
        try request.validate()
        let layer = try ganspaceLayer(generator, request, modelName: modelName)
        let cut = try GANSpace.prefix(of: generator, through: layer, modelName: modelName)
        let moments = GANSpace.accumulate(prefix: cut, samples: request.samples, batchSize: request.batchSize,
                                          labels: request.label, latents: latents, progress: progress)
        let found = try GANSpace.components(moments, top: generator.latentSize)
        return found.enumerated().map { k, c in
            DiscoveredDirection(name: "\(prefix)-\(k)", vector: c.direction, method: .ganspace,
                                info: .init(rank: k, varianceRatio: c.varianceRatio, sigma: c.sigma, layer: layer))
        }
    }

    /// The boundary between `with` and `without`; with `condition` (another boundary's normal)
    /// it is made orthogonal to that one (InterFaceGAN's conditional edit).
    public static func boundary(name: String, with: [[Float]], without: [[Float]], condition: [Float]? = nil,
                                prior: LatentPrior, truncation: Truncation = .none) throws -> DiscoveredDirection {
        let fit = try Boundary.fit(with: with, without: without)
        var normal = fit.normal
        if let condition { normal = try AttributeVectors.orthogonalise(normal, against: try AttributeVectors.normalised(condition)) }
        return DiscoveredDirection(name: name, vector: normal, method: .boundary,
                                   info: .init(rank: 0, accuracy: fit.accuracy, sigma: priorSigma(prior, truncation)))
    }

    /// The prior's standard deviation along any unit vector: 1 for N(0, 1), (high - low)/sqrt 12
    /// for a uniform prior; psi truncation scales it, resampling uses the truncated distribution's.
    public static func priorSigma(_ prior: LatentPrior, _ truncation: Truncation) -> Double {
        switch (prior, truncation) {
        case (.normal, .none): return 1
        case (.normal, .psi(let psi)): return Double(psi)
        case (.normal, .resample(let t)):
            // Var of N(0, 1) truncated to [-t, t]: 1 - 2 t phi(t) / (2 Phi(t) - 1).
            let t = Double(t), phi = exp(-t * t / 2) / (2 * Double.pi).squareRoot(), mass = erf(t / 2.0.squareRoot())
            return max(0, 1 - 2 * t * phi / mass).squareRoot()
        case let (.uniform(low, high), truncation):
            var half = Double(high - low) / 2
            if case .psi(let psi) = truncation { half *= Double(psi) }
            if case .resample(let t) = truncation { half = min(half, Double(t)) }
            return 2 * half / 12.0.squareRoot()
        }
    }

    /// Row-major latents for a grid with one row per (base, direction) pair, bases outermost,
    /// and one column per strength s: base + s sigma u.
    public static func grid(bases: [[Float]], directions: [(vector: [Float], sigma: Double)], strengths: [Float]) -> [[Float]] {
        var out: [[Float]] = []
        for base in bases {
            for d in directions {
                for s in strengths { out.append(combine(1, base, Double(s) * d.sigma, d.vector)) }
            }
        }
        return out
    }

    /// Library entries for the directions, each recording where it came from.
    public static func entries(_ directions: [DiscoveredDirection], model: String, modelHash: String,
                               sources: [String]) -> [(name: String, entry: VectorLibrary.Entry)] {
        directions.map {
            ($0.name, VectorLibrary.Entry(model: model, modelHash: modelHash, vector: $0.vector, method: $0.method,
                                          sources: sources, direction: $0.info))
        }
    }

    /// The directions as a float32 (K, Z) array, one unit direction per row in the given order.
    public static func writeNPY(_ directions: [DiscoveredDirection], to url: URL) throws {
        try LatentIO.writeNPY(directions.map(\.vector), to: url)
    }
}
