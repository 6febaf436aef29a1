import Tensor

/// One stage of a generator, holding its parameters in PyTorch's layouts.
public enum Layer: Sendable {
    /// weight (out, in), bias (out)
    case linear(weight: Tensor, bias: Tensor?)
    /// weight (O, C, kh, kw), bias (O)
    case conv2d(weight: Tensor, bias: Tensor?, geometry: ConvGeometry)
    /// weight (C, O, kh, kw), bias (O)
    case convTranspose2d(weight: Tensor, bias: Tensor?, geometry: ConvGeometry)
    case upsampleNearest(scale: Int)
    /// Running-statistics batch norm, already reduced to y = x * scale + shift per channel.
    case batchNorm(scale: [Float], shift: [Float])
    /// Per-sample target shape; at most one -1.
    case reshape([Int])
    case flatten
    case activation(ActivationKind)

    public var kind: String {
        switch self {
        case .linear: return "linear"
        case .conv2d: return "conv2d"
        case .convTranspose2d: return "convtranspose2d"
        case .upsampleNearest: return "upsample"
        case .batchNorm: return "batchnorm"
        case .reshape: return "reshape"
        case .flatten: return "flatten"
        case .activation(let a):
            switch a {
            case .identity: return "identity"
            case .relu: return "relu"
            case .leakyReLU: return "leakyrelu"
            case .tanh: return "tanh"
            case .sigmoid: return "sigmoid"
            }
        }
    }

    /// The per-sample output shape for a per-sample input shape, or why they don't chain.
    public func outputShape(for input: [Int]) -> Result<[Int], ShapeMismatch> {
        func mismatch(_ expected: String) -> Result<[Int], ShapeMismatch> {
            .failure(ShapeMismatch(expected: expected, actual: input))
        }
        switch self {
        case .linear(let weight, _):
            let (outF, inF) = (weight.shape[0], weight.shape[1])
            guard input == [inF] else { return mismatch("(\(inF))" + (input.count > 1 && input.reduce(1, *) == inF ? "; add a flatten layer before it" : "")) }
            return .success([outF])
        case .conv2d(_, _, let g):
            guard input.count == 3, input[0] == g.inChannels else { return mismatch("(\(g.inChannels), H, W)") }
            let (h, w) = g.convOutputSize(height: input[1], width: input[2])
            guard h > 0, w > 0 else { return mismatch("an input of at least the kernel's size \(g.kernelHeight)x\(g.kernelWidth) after padding") }
            return .success([g.outChannels, h, w])
        case .convTranspose2d(_, _, let g):
            guard input.count == 3, input[0] == g.inChannels else { return mismatch("(\(g.inChannels), H, W)") }
            let (h, w) = g.transposedOutputSize(height: input[1], width: input[2])
            guard h > 0, w > 0 else { return mismatch("an input large enough that cropping \(g.padding) leaves an output") }
            return .success([g.outChannels, h, w])
        case .upsampleNearest(let s):
            guard input.count == 3 else { return mismatch("(C, H, W)") }
            return .success([input[0], input[1] * s, input[2] * s])
        case .batchNorm(let scale, _):
            guard (input.count == 1 || input.count == 3), input[0] == scale.count else {
                return mismatch("(\(scale.count)) or (\(scale.count), H, W)")
            }
            return .success(input)
        case .reshape(let target):
            let total = input.reduce(1, *)
            let known = target.filter { $0 != -1 }.reduce(1, *)
            if target.contains(-1) {
                guard known > 0, total % known == 0 else { return mismatch("a shape whose size is a multiple of \(known)") }
                return .success(target.map { $0 == -1 ? total / known : $0 })
            }
            guard known == total else { return mismatch("\(known) values to fill \(target)") }
            return .success(target)
        case .flatten:
            return .success([input.reduce(1, *)])
        case .activation:
            return .success(input)
        }
    }

    /// Multiply-adds per image for a per-sample input shape (the layer's own arithmetic).
    public func multiplyAdds(input: [Int], output: [Int]) -> Int {
        switch self {
        case .linear(let weight, _): return weight.count
        case .conv2d(_, _, let g): return output.reduce(1, *) * g.patchSize
        case .convTranspose2d(_, _, let g):
            return input.reduce(1, *) * g.outChannels * g.kernelHeight * g.kernelWidth
        default: return 0
        }
    }

    public var parameterCount: Int {
        switch self {
        case .linear(let w, let b), .conv2d(let w, let b, _), .convTranspose2d(let w, let b, _):
            return w.count + (b?.count ?? 0)
        case .batchNorm(let scale, let shift): return scale.count + shift.count
        default: return 0
        }
    }

    /// Runs the layer on a batch (N, ...).
    public func forward(_ x: Tensor) -> Tensor {
        switch self {
        case .linear(let w, let b): return Linear.forward(x, weight: w, bias: b)
        case .conv2d(let w, let b, let g): return Conv2d.forward(x, weight: w, bias: b, geometry: g)
        case .convTranspose2d(let w, let b, let g): return ConvTranspose2d.forward(x, weight: w, bias: b, geometry: g)
        case .upsampleNearest(let s): return Upsample.nearest(x, scale: s)
        case .batchNorm(let scale, let shift):
            var y = x
            BatchNormInference.apply(&y, scale: scale, shift: shift)
            return y
        case .reshape, .flatten:
            let perSample = try! outputShape(for: Array(x.shape.dropFirst())).get()
            return x.reshaped([x.shape[0]] + perSample)
        case .activation(let a):
            var y = x
            a.apply(&y)
            return y
        }
    }

    /// The same layer computed with the plain-loop reference kernels.
    public func forwardNaive(_ x: Tensor) -> Tensor {
        switch self {
        case .linear(let w, let b): return Linear.forwardNaive(x, weight: w, bias: b)
        case .conv2d(let w, let b, let g): return Conv2d.forwardNaive(x, weight: w, bias: b, geometry: g)
        case .convTranspose2d(let w, let b, let g): return ConvTranspose2d.forwardNaive(x, weight: w, bias: b, geometry: g)
        default: return forward(x)
        }
    }
}

/// Why a layer cannot take the shape the previous one produces.
public struct ShapeMismatch: Error, Sendable {
    public let expected: String
    public let actual: [Int]
}

/// Formats a per-sample shape as `(C, H, W)`.
public func describeShape(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
