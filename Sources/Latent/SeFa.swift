import Foundation
import NN
import Tensor

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
        var g = [Double](repeating: 0, count: nz * nz)   // (Z, Z)
        for i in 0..<nz {
            for j in i..<nz {
                var s = 0.0
                for c in 0..<k { s += w[i * k + c] * w[j * k + c] }
                g[i * nz + j] = s
                g[j * nz + i] = s
            }
        }
        return try SymmetricEigen.decompose(g, n: nz)
    }

    /// W (Z, K) of a generator's first layer, latent rows only: leading reshapes and flattens
    /// are skipped; the first layer with weights must be a Linear on a flat input or a
    /// ConvTranspose2d on a (joined, 1, 1) input. For a conditional model that concatenates
    /// an embedding, the embedding's rows are left out; a multiplying one keeps all Z rows.
    /// Anything else is refused with a message naming the layer.
    public static func weightMatrix(of generator: Generator, modelName: String) throws -> Tensor {
        let z = generator.latentSize
        let joined = generator.conditioning?.joinedSize(latentSize: z) ?? z
        let latentRows: Range<Int> = generator.conditioning?.join == .concatLabelFirst ? (joined - z)..<joined : 0..<z
        var input = generator.inputShape
        for (i, layer) in generator.layers.enumerated() {
            func refuse(_ why: String) -> LatentError {
                .invalidOption("SeFa factorises the first layer, but layer \(i) of '\(modelName)' (\(layer.kind)) \(why); "
                    + "use --method ganspace, which works on any generator")
            }
            switch layer {
            case .reshape, .flatten:
                input = generator.shapes[i]
                continue
            case .linear(let w, _):
                guard input.count == 1 else { throw refuse("sees an input of shape \(describeShape(input)), not a flat latent") }
                let full = try weightMatrix(w, layer: .linear)                    // (joined, out)
                return full.rows(latentRows)                                       // (Z, out)
            case .convTranspose2d(let w, _, _):
                guard input.count == 3, input[1] == 1, input[2] == 1 else {
                    throw refuse("sees an input of shape \(describeShape(input)), not a latent viewed as (\(joined), 1, 1)")
                }
                return try weightMatrix(w, layer: .convTranspose).rows(latentRows) // (Z, C kH kW)
            default:
                throw refuse("is neither linear nor a transposed convolution")
            }
        }
        throw LatentError.invalidOption("SeFa needs a first layer with weights, but '\(modelName)' has none")
    }
}
