import Tensor

extension Conditioning {
    /// (N, size) latents and (N, classes) weights -> (N, joinedSize): the embedding joined to
    /// each latent is the weights' mix of class embeddings (one-hot weights give `apply(_:labels:)`).
    public func apply(_ z: Tensor, weights: Tensor) -> Tensor {
        let n = z.shape[0], size = z.shape[1], d = embedding.shape[1]
        precondition(weights.shape == [n, classes], "class weights \(weights.shape) for \(n) latents and \(classes) classes")
        var mixed = [Float](repeating: 0, count: n * d)   // (N, D) = weights (N, K) x embedding (K, D)
        for i in 0..<n {
            for k in 0..<classes where weights.data[i * classes + k] != 0 {
                let w = weights.data[i * classes + k]
                for j in 0..<d { mixed[i * d + j] += w * embedding.data[k * d + j] }
            }
        }
        let out = joinedSize(latentSize: size)
        var y = [Float](repeating: 0, count: n * out)
        for i in 0..<n {
            let zRow = Array(z.data[(i * size)..<((i + 1) * size)]), eRow = Array(mixed[(i * d)..<((i + 1) * d)])
            switch join {
            case .concatLatentFirst: y.replaceSubrange((i * out)..<((i + 1) * out), with: zRow + eRow)
            case .concatLabelFirst: y.replaceSubrange((i * out)..<((i + 1) * out), with: eRow + zRow)
            case .multiply: for k in 0..<size { y[i * out + k] = zRow[k] * eRow[k] }
            }
        }
        return Tensor(shape: [n, out], data: y)
    }
}

extension Generator {
    /// Runs a conditional generator with a mixture of classes per latent (class walks).
    public func forward(_ latents: Tensor, classWeights: Tensor, batchSize: Int = 64) -> Tensor {
        guard let conditioning else { return forward(latents, batchSize: batchSize) }
        let joined = conditioning.apply(latents, weights: classWeights)
        let body = try! Generator(latentSize: joined.shape[1], inputShape: inputShape, conditioning: nil, layers: layers, policy: policy)
        return body.forward(joined, batchSize: batchSize)
    }
}
