import Safety
import Tensor

/// How a class label joins the latent in a conditional generator.
public struct Conditioning: Sendable {
    public enum Join: String, Sendable, Codable {
        /// concat(z, embed(label)) along the feature axis.
        case concatLatentFirst = "concat-latent-first"
        /// concat(embed(label), z).
        case concatLabelFirst = "concat-label-first"
        /// z * embed(label), element by element (the embedding has the latent's size).
        case multiply
    }

    public let classes: Int
    /// (classes, D)
    public let embedding: Tensor
    public let join: Join

    public init(embedding: Tensor, join: Join) {
        precondition(embedding.rank == 2)
        self.classes = embedding.shape[0]
        self.embedding = embedding
        self.join = join
    }

    /// Features the first layer sees for a latent of `latentSize` values.
    public func joinedSize(latentSize: Int) -> Int {
        join == .multiply ? latentSize : latentSize + embedding.shape[1]
    }

    /// (N, size) latents and N labels -> (N, joinedSize).
    public func apply(_ z: Tensor, labels: [Int]) -> Tensor {
        let n = z.shape[0]
        precondition(labels.count == n, "\(labels.count) labels for \(n) latents")
        var oneHot = Tensor(zeros: [n, classes])
        for (i, label) in labels.enumerated() {
            precondition(label >= 0 && label < classes, "class \(label) outside 0..<\(classes)")
            oneHot.data[i * classes + label] = 1
        }
        return apply(z, weights: oneHot)
    }
}

/// A feed-forward generator: a latent batch (N, Z) in, an image batch (N, C, H, W) out.
/// Built once with every shape checked, so sampling can't fail on a shape.
public struct Generator: Sendable {
    public let latentSize: Int
    /// How one (joined) latent is viewed before the first layer, e.g. [100, 1, 1].
    public let inputShape: [Int]
    public let conditioning: Conditioning?
    public let layers: [Layer]
    /// Per-sample output shape of every layer, in order.
    public let shapes: [[Int]]
    /// The kernel policy the inference plan is built under; nil: `KernelPolicy.default` as it
    /// stands when the plan is built.
    public let policy: KernelPolicy?
    /// The compiled inference plan and its reused buffers, built on the first fast forward.
    private let plan = PlanCache()

    public struct ShapeError: Error, CustomStringConvertible, Sendable {
        public let layerIndex: Int
        public let layerKind: String
        public let expected: String
        public let actual: [Int]
        public var description: String {
            "layer \(layerIndex) (\(layerKind)) expects input \(expected) but the previous stage gives \(describeShape(actual))"
        }
    }

    /// - Parameters:
    ///   - inputShape: the view of the (joined) latent; defaults to a flat vector.
    ///   - policy: the kernels the inference plan runs on (benchmarks and tests choose them).
    public init(latentSize: Int, inputShape: [Int]? = nil, conditioning: Conditioning? = nil,
                layers: [Layer], policy: KernelPolicy? = nil) throws {
        let joined = conditioning?.joinedSize(latentSize: latentSize) ?? latentSize
        let view = inputShape ?? [joined]
        guard view.reduce(1, *) == joined else {
            throw ShapeError(layerIndex: 0, layerKind: "latent view", expected: "\(joined) values", actual: view)
        }
        var shapes: [[Int]] = []
        var current = view
        for (i, layer) in layers.enumerated() {
            switch layer.outputShape(for: current) {
            case .success(let next): current = next
            case .failure(let m):
                throw ShapeError(layerIndex: i, layerKind: layer.kind, expected: m.expected, actual: m.actual)
            }
            guard let values = Limits.product(current), values <= Limits.maximumStageElements else {
                throw ShapeError(layerIndex: i, layerKind: layer.kind,
                                 expected: "an output of at most \(Limits.maximumStageElements) values an image (512 MiB)", actual: current)
            }
            shapes.append(current)
        }
        self.latentSize = latentSize
        self.inputShape = view
        self.conditioning = conditioning
        self.layers = layers
        self.shapes = shapes
        self.policy = policy
    }

    /// Per-sample output shape, e.g. [3, 64, 64].
    public var outputShape: [Int] { shapes.last ?? inputShape }

    public var multiplyAddsPerImage: Int {
        var total = 0, input = inputShape
        for (layer, output) in zip(layers, shapes) {
            total += layer.multiplyAdds(input: input, output: output)
            input = output
        }
        return total
    }

    /// Multiply-adds per image the compiled inference plan performs: fewer than
    /// `multiplyAddsPerImage` where it rewrites layers (upsample + conv, strided transposed convs),
    /// a few more where its phases still multiply padding.
    public var plannedMultiplyAddsPerImage: Int { InferencePlan(self, policy: policy ?? .default).multiplyAdds }

    public var parameterCount: Int {
        layers.reduce(0) { $0 + $1.parameterCount } + (conditioning?.embedding.count ?? 0)
    }

    /// Runs the generator on latents (N, Z); `labels` are required for conditional models.
    public func forward(_ latents: Tensor, labels: [Int]? = nil, naive: Bool = false) -> Tensor {
        precondition(latents.rank == 2 && latents.shape[1] == latentSize,
                     "latents \(latents.shape) do not have \(latentSize) columns")
        var x = latents
        if let conditioning {
            x = conditioning.apply(x, labels: labels ?? [Int](repeating: 0, count: latents.shape[0]))
        }
        x = x.reshaped([latents.shape[0]] + inputShape)
        if !naive { return plan.run(self, x) }
        for layer in layers { x = layer.forwardNaive(x) }
        return x
    }

    /// The largest input plus output of one stage for one image, in values: what a forward
    /// pass holds at once per image, before the plan's padded copies.
    public var peakValuesPerImage: Int {
        zip([inputShape] + shapes, shapes).map { $0.reduce(1, *) + $1.reduce(1, *) }.max() ?? inputShape.reduce(1, *)
    }

    /// The batch size to use for `requested`: smaller when that many images would need more
    /// than `Limits.forwardBudgetBytes` (counting the plan's copies as three times the stages).
    public func boundedBatchSize(_ requested: Int) -> Int {
        max(1, min(requested, Limits.forwardBudgetBytes / max(1, 12 * peakValuesPerImage)))
    }

    /// Runs large batches in slices of `batchSize` (or fewer, see `boundedBatchSize`) so memory
    /// stays bounded.
    public func forward(_ latents: Tensor, labels: [Int]? = nil, batchSize: Int) -> Tensor {
        let batchSize = boundedBatchSize(batchSize)
        let n = latents.shape[0]
        if n <= batchSize { return forward(latents, labels: labels) }
        var parts: [Tensor] = []
        var start = 0
        while start < n {
            let end = min(n, start + batchSize)
            parts.append(forward(latents.rows(start..<end), labels: labels.map { Array($0[start..<end]) }))
            start = end
        }
        return Tensor.concatenateRows(parts)
    }

    /// The same function with every batch norm that directly follows a linear, conv2d or
    /// conv-transpose2d (possibly through a reshape that keeps channels contiguous) folded
    /// into that layer's weights and bias.
    public func foldingBatchNorm() -> Generator {
        // Generators are immutable: fold once, and keep the result (and its compiled plan).
        plan.folded { folded() }
    }

    private func folded() -> Generator {
        var out: [Layer] = []
        for layer in layers {
            guard case .batchNorm(let scale, let shift) = layer else { out.append(layer); continue }
            var reshapeTail: Layer? = nil
            var target = out.last
            if case .reshape = target ?? .flatten, out.count >= 2 { reshapeTail = target; target = out[out.count - 2] }
            if reshapeTail != nil, case .linear = target ?? .flatten {} else if reshapeTail != nil { target = nil }
            if let target, let folded = fold(target, scale: scale, shift: shift) {
                out.removeLast(reshapeTail == nil ? 1 : 2)
                out.append(folded)
                if let reshapeTail { out.append(reshapeTail) }
            } else {
                out.append(layer)
            }
        }
        return try! Generator(latentSize: latentSize, inputShape: inputShape,
                              conditioning: conditioning, layers: out, policy: policy)
    }

    /// Folds y = x * scale[c] + shift[c] into the layer producing x, or nil if it can't.
    private func fold(_ layer: Layer, scale: [Float], shift: [Float]) -> Layer? {
        let c = scale.count
        func scaledBias(_ bias: Tensor?, rows: Int, channelOf: (Int) -> Int) -> Tensor {
            var b = bias?.data ?? [Float](repeating: 0, count: rows)
            for r in 0..<rows { b[r] = b[r] * scale[channelOf(r)] + shift[channelOf(r)] }
            return Tensor(shape: [rows], data: b)
        }
        switch layer {
        case .linear(var w, let b):
            let rows = w.shape[0], cols = w.shape[1]
            guard rows % c == 0 else { return nil }
            let per = rows / c
            w.data.withUnsafeMutableBufferPointer { d in
                for r in 0..<rows {
                    let s = scale[r / per]
                    for k in 0..<cols { d[r * cols + k] *= s }
                }
            }
            return .linear(weight: w, bias: scaledBias(b, rows: rows) { $0 / per })
        case .conv2d(var w, let b, let g):
            guard g.outChannels == c else { return nil }
            let per = g.patchSize
            w.data.withUnsafeMutableBufferPointer { d in
                for o in 0..<c {
                    let s = scale[o]
                    for i in o * per..<(o + 1) * per { d[i] *= s }
                }
            }
            return .conv2d(weight: w, bias: scaledBias(b, rows: c) { $0 }, geometry: g)
        case .convTranspose2d(var w, let b, let g):
            guard g.outChannels == c else { return nil }
            let k = g.kernelHeight * g.kernelWidth
            // (C_in, O, kh, kw): block (ci, o) of k values scales by scale[o].
            let blocks = w.count / k
            w.data.withUnsafeMutableBufferPointer { d in
                for block in 0..<blocks {
                    let s = scale[block % c]
                    for i in block * k..<(block + 1) * k { d[i] *= s }
                }
            }
            return .convTranspose2d(weight: w, bias: scaledBias(b, rows: c) { $0 }, geometry: g)
        default:
            return nil
        }
    }
}
