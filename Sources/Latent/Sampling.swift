import Foundation
import ModelIO
import Tensor
import ModelIO

/// The distribution a generator's latents were trained with: the manifest's
/// `LatentDistribution` (ModelIO), one type for the file, the sampler and training.
public typealias LatentPrior = LatentDistribution

extension LatentDistribution {
    /// The range sweeps cover: -3...3 (three sigma) for the normal prior, low...high for uniform.
    public var spread: ClosedRange<Float> {
        switch self {
        case .normal: return -3...3
        case let .uniform(low, high): return low...high
        }
    }

    /// The prior's mean: 0 for normal, (low + high) / 2 for uniform. Truncation works about it.
    public var center: Float {
        switch self {
        case .normal: return 0
        case let .uniform(low, high): return (low + high) / 2
        }
    }

    /// Checks the parameters (low < high, both finite).
    public func validate() throws {
        if case let .uniform(low, high) = self {
            guard low.isFinite, high.isFinite, low < high else {
                throw LatentError.invalidOption("uniform prior needs finite low < high, got \(low)...\(high)")
            }
        }
    }

    /// One component, drawn in Double: normal uses `nextNormal()`, uniform
    /// `low + (high - low) * nextUnit()`.
    @inline(__always) func draw(_ rng: inout SplitMix64) -> Double {
        switch self {
        case .normal: return rng.nextNormal()
        case let .uniform(low, high): return Double(low) + (Double(high) - Double(low)) * rng.nextUnit()
        }
    }
}

/// Truncation trades variety for fidelity. Two distinct definitions, under distinct names.
public enum Truncation: Equatable, Sendable {
    case none
    /// Shrink toward the prior's centre: z' = c + psi (z - c), 0 < psi <= 1. For the zero-mean
    /// normal prior (c = 0) this is the usual z' = psi * z.
    case psi(Float)
    /// BigGAN's truncation trick: redraw every component with |z_i - c| > threshold from the
    /// same stream until it falls inside (c = 0 for the normal prior).
    case resample(threshold: Float)

    /// Checks the parameters: psi in (0, 1], threshold > 0 and finite.
    public func validate() throws {
        switch self {
        case .none: break
        case .psi(let psi):
            guard psi > 0, psi <= 1 else {
                throw LatentError.invalidOption("truncation psi must be in (0, 1], got \(psi)")
            }
        case .resample(let threshold):
            guard threshold > 0, threshold.isFinite else {
                throw LatentError.invalidOption("truncation threshold must be a positive number, got \(threshold)")
            }
        }
    }
}

/// How seeds become latents. This mapping is part of Forger's file format: never change it.
///
/// - The latent for seed S is drawn from `SplitMix64(seed: S)` component by component, in
///   order 0, 1, ..., size-1. Each component is computed in Double and rounded to Float once:
///   normal: `nextNormal()` (Box-Muller, cosine branch, two uniforms per value);
///   uniform: `low + (high - low) * nextUnit()`.
/// - `.psi(p)` maps each Double component z to c + p (z - c) before rounding.
/// - `.resample(threshold: t)` replaces a component with |z - c| > t by the next draw(s) from
///   the same stream, so later components shift along the stream.
/// - Sample `index` i of seed S is the latent of seed S + i (wrapping at 2^64). A batch of N
///   from seed S is therefore seeds S, S+1, ..., S+N-1, and splitting a batch into shards
///   (`--shard`) gives identical latents.
public enum LatentSampler {
    public static func sample(seed: UInt64, index: Int = 0, size: Int,
                              prior: LatentPrior = .normal, truncation: Truncation = .none) -> [Float] {
        precondition(size >= 0 && index >= 0, "size and index must be non-negative")
        var rng = SplitMix64(seed: seed &+ UInt64(index))
        let c = Double(prior.center)
        var out = [Float](repeating: 0, count: size)
        for i in 0..<size {
            var z = prior.draw(&rng)
            switch truncation {
            case .none: break
            case .psi(let psi): z = c + Double(psi) * (z - c)
            case .resample(let threshold):
                precondition(threshold > 0, "truncation threshold must be positive (validate() first)")
                while abs(z - c) > Double(threshold) { z = prior.draw(&rng) }
            }
            out[i] = Float(z)
        }
        return out
    }

    /// Samples `count` latents: row i is `sample(seed: seed, index: i, ...)`.
    public static func batch(seed: UInt64, count: Int, size: Int,
                             prior: LatentPrior = .normal, truncation: Truncation = .none) -> [[Float]] {
        (0..<count).map { sample(seed: seed, index: $0, size: size, prior: prior, truncation: truncation) }
    }

    /// The same batch as a tensor (N, Z).
    public static func batchTensor(seed: UInt64, count: Int, size: Int,
                                   prior: LatentPrior = .normal, truncation: Truncation = .none) -> Tensor {
        let rows = batch(seed: seed, count: count, size: size, prior: prior, truncation: truncation)
        return Tensor(shape: [count, size], data: rows.flatMap { $0 })   // (N, Z)
    }
}

extension Tensor {
    /// A batch (N, Z) as one [Float] per row.
    public var latentRows: [[Float]] {
        precondition(shape.count == 2, "a latent batch is (N, Z), got \(shape)")
        let size = shape[1]
        return (0..<shape[0]).map { Array(data[($0 * size)..<(($0 + 1) * size)]) }
    }

    /// Rows of one size as a tensor (N, Z).
    public init(latentRows rows: [[Float]], size: Int) {
        precondition(rows.allSatisfy { $0.count == size }, "every latent must have size \(size)")
        self.init(shape: [rows.count, size], data: rows.flatMap { $0 })
    }
}

extension LatentPrior {
    /// The prior a model's manifest declares.
    public init(_ distribution: LatentDistribution) {
        switch distribution {
        case .normal: self = .normal
        case .uniform(let low, let high): self = .uniform(low: low, high: high)
        }
    }
}
