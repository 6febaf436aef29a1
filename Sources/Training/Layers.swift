import Foundation
import Tensor
import ModelIO

/// A trainable tensor and the gradient accumulated for it. Backward adds into `gradient`;
/// `zeroGradient()` is its own call.
public final class Parameter {
    public var value: Tensor
    public var gradient: Tensor
    /// When false on a layer's first parameter (weight, or batch norm's gamma), that layer's
    /// backward leaves all its parameter gradients alone and skips the work that would fill them.
    /// `Network.inputGradient` sets it on every parameter for one backward (the generator step
    /// through D). Optimizers do not look at it: it is not a way to freeze a layer.
    public var requiresGradient = true

    public init(_ value: Tensor) {
        self.value = value
        self.gradient = Tensor(zeros: value.shape)
    }

    public func zeroGradient() {
        gradient.data.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

/// One stage of a trainable network. Forward keeps what backward needs (the layer's cache);
/// backward takes the output's gradient, adds into parameter gradients and returns the
/// input's gradient. Caches hold the last forward only: call forward, then backward.
public protocol TrainableLayer: AnyObject {
    var kind: String { get }
    /// Named trainable tensors, e.g. [("weight", w), ("bias", b)].
    var parameters: [(name: String, parameter: Parameter)] { get }
    /// Named non-trainable state saved in checkpoints (batch norm's running statistics).
    var buffers: [(name: String, parameter: Parameter)] { get }
    func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor
    func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor?
    /// The inference layer for `model.json`, or nil when the layer is the identity there (dropout).
    func spec(prefix: String) -> LayerSpecExport?
}

extension TrainableLayer {
    public var parameters: [(name: String, parameter: Parameter)] { [] }
    public var buffers: [(name: String, parameter: Parameter)] { [] }
}

/// What a layer contributes to a saved model: its spec and its named tensors.
public struct LayerSpecExport {
    public var spec: LayerSpec
    public var tensors: [(name: String, tensor: Tensor)]
}

// MARK: - Layers with parameters

/// Fully connected: (N, in) -> (N, out). weight (out, in), bias (out).
public final class DenseLayer: TrainableLayer {
    public let weight: Parameter
    public let bias: Parameter?
    private var input = Tensor(zeros: [0])        // (N, in)

    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2 && (bias == nil || bias!.shape == [weight.shape[0]]))
        self.weight = Parameter(weight); self.bias = bias.map(Parameter.init)
    }

    public convenience init(inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        self.init(weight: Tensor(zeros: [outFeatures, inFeatures]), bias: bias ? Tensor(zeros: [outFeatures]) : nil)
    }

    public var kind: String { "linear" }
    public var parameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        input = x
        return Linear.forward(x, weight: weight.value, bias: bias?.value)
    }

    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        var gb = bias?.gradient
        let dx = LinearBackward.backward(input: input, weight: weight.value, gradOutput: gradOutput,
                                         gradWeight: &weight.gradient, gradBias: &gb, needInputGradient: needInputGradient,
                                         needWeightGradient: weight.requiresGradient)
        if let gb { bias!.gradient = gb }
        return dx
    }

    public func spec(prefix: String) -> LayerSpecExport? {
        LayerSpecExport(spec: .linear(inFeatures: weight.value.shape[1], outFeatures: weight.value.shape[0],
                                      weight: prefix + "weight", bias: bias == nil ? nil : prefix + "bias"),
                        tensors: [(prefix + "weight", weight.value)] + (bias.map { [(prefix + "bias", $0.value)] } ?? []))
    }
}

/// conv2d: (N, C, H, W) -> (N, O, OH, OW). weight (O, C, kh, kw), bias (O).
public final class Conv2dLayer: TrainableLayer {
    public let geometry: ConvGeometry
    public let weight: Parameter
    public let bias: Parameter?
    private var input = Tensor(zeros: [0])        // (N, C, H, W)

    public init(weight: Tensor, bias: Tensor?, geometry: ConvGeometry) {
        precondition(weight.shape == [geometry.outChannels, geometry.inChannels, geometry.kernelHeight, geometry.kernelWidth])
        self.geometry = geometry; self.weight = Parameter(weight); self.bias = bias.map(Parameter.init)
    }

    public convenience init(geometry: ConvGeometry, bias: Bool = true) {
        self.init(weight: Tensor(zeros: [geometry.outChannels, geometry.inChannels, geometry.kernelHeight, geometry.kernelWidth]),
                  bias: bias ? Tensor(zeros: [geometry.outChannels]) : nil, geometry: geometry)
    }

    public var kind: String { "conv2d" }
    public var parameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        input = x
        return Conv2d.forward(x, weight: weight.value, bias: bias?.value, geometry: geometry)
    }

    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        var gb = bias?.gradient
        let dx = Conv2dBackward.backward(input: input, weight: weight.value, gradOutput: gradOutput, geometry: geometry,
                                         gradWeight: &weight.gradient, gradBias: &gb, needInputGradient: needInputGradient,
                                         needWeightGradient: weight.requiresGradient)
        if let gb { bias!.gradient = gb }
        return dx
    }

    public func spec(prefix: String) -> LayerSpecExport? {
        LayerSpecExport(spec: .conv2d(geometry, weight: prefix + "weight", bias: bias == nil ? nil : prefix + "bias"),
                        tensors: [(prefix + "weight", weight.value)] + (bias.map { [(prefix + "bias", $0.value)] } ?? []))
    }
}

/// conv-transpose2d: (N, C, H, W) -> (N, O, OH, OW). weight (C, O, kh, kw), bias (O).
public final class ConvTranspose2dLayer: TrainableLayer {
    public let geometry: ConvGeometry
    public let weight: Parameter
    public let bias: Parameter?
    private var input = Tensor(zeros: [0])        // (N, C, H, W)

    public init(weight: Tensor, bias: Tensor?, geometry: ConvGeometry) {
        precondition(weight.shape == [geometry.inChannels, geometry.outChannels, geometry.kernelHeight, geometry.kernelWidth])
        self.geometry = geometry; self.weight = Parameter(weight); self.bias = bias.map(Parameter.init)
    }

    public convenience init(geometry: ConvGeometry, bias: Bool = true) {
        self.init(weight: Tensor(zeros: [geometry.inChannels, geometry.outChannels, geometry.kernelHeight, geometry.kernelWidth]),
                  bias: bias ? Tensor(zeros: [geometry.outChannels]) : nil, geometry: geometry)
    }

    public var kind: String { "convtranspose2d" }
    public var parameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        input = x
        return ConvTranspose2d.forward(x, weight: weight.value, bias: bias?.value, geometry: geometry)
    }

    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        var gb = bias?.gradient
        let dx = ConvTranspose2dBackward.backward(input: input, weight: weight.value, gradOutput: gradOutput, geometry: geometry,
                                                  gradWeight: &weight.gradient, gradBias: &gb, needInputGradient: needInputGradient,
                                                  needWeightGradient: weight.requiresGradient)
        if let gb { bias!.gradient = gb }
        return dx
    }

    public func spec(prefix: String) -> LayerSpecExport? {
        LayerSpecExport(spec: .convTranspose2d(geometry, weight: prefix + "weight", bias: bias == nil ? nil : prefix + "bias"),
                        tensors: [(prefix + "weight", weight.value)] + (bias.map { [(prefix + "bias", $0.value)] } ?? []))
    }
}

/// Batch norm over (N, C) or (N, C, H, W). Training mode normalises with the batch's
/// statistics and updates the running ones as PyTorch does:
/// running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
public final class BatchNormLayer: TrainableLayer {
    public let gamma: Parameter, beta: Parameter
    public let runningMean: Parameter, runningVar: Parameter
    public let eps: Float, momentum: Float
    private var cache: BatchNormTraining.Cache?
    private var inferenceScale: [Float] = []

    public init(features: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        gamma = Parameter(Tensor(shape: [features], repeating: 1)); beta = Parameter(Tensor(zeros: [features]))
        runningMean = Parameter(Tensor(zeros: [features])); runningVar = Parameter(Tensor(shape: [features], repeating: 1))
        self.eps = eps; self.momentum = momentum
    }

    public var kind: String { "batchnorm" }
    public var parameters: [(name: String, parameter: Parameter)] { [("weight", gamma), ("bias", beta)] }
    public var buffers: [(name: String, parameter: Parameter)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        if !training {
            cache = nil
            let (scale, shift) = BatchNormInference.affine(gamma: gamma.value, beta: beta.value, mean: runningMean.value,
                                                           variance: runningVar.value, eps: eps)
            inferenceScale = scale
            var y = x
            BatchNormInference.apply(&y, scale: scale, shift: shift)
            return y
        }
        let (y, c) = BatchNormTraining.forward(x, gamma: gamma.value, beta: beta.value, eps: eps)
        cache = c
        let m = Float(x.count / x.shape[1])
        let unbias = m > 1 ? m / (m - 1) : 1
        for ch in 0..<gamma.value.count {
            runningMean.value.data[ch] = (1 - momentum) * runningMean.value.data[ch] + momentum * c.mean[ch]
            runningVar.value.data[ch] = (1 - momentum) * runningVar.value.data[ch] + momentum * c.variance[ch] * unbias
        }
        return y
    }

    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        guard let cache else {
            // Inference mode: y = x * scale + shift, so dx = dy * scale; gamma/beta get no gradient.
            var dx = gradOutput
            BatchNormInference.apply(&dx, scale: inferenceScale, shift: [Float](repeating: 0, count: inferenceScale.count))
            return dx
        }
        guard gamma.requiresGradient else {
            var scratchGamma = Tensor(zeros: gamma.value.shape), scratchBeta = Tensor(zeros: beta.value.shape)
            return BatchNormTraining.backward(gradOutput, cache: cache, gamma: gamma.value,
                                              gradGamma: &scratchGamma, gradBeta: &scratchBeta)
        }
        return BatchNormTraining.backward(gradOutput, cache: cache, gamma: gamma.value,
                                          gradGamma: &gamma.gradient, gradBeta: &beta.gradient)
    }

    public func spec(prefix: String) -> LayerSpecExport? {
        LayerSpecExport(spec: .batchNorm(features: gamma.value.count, eps: eps, weight: prefix + "weight", bias: prefix + "bias",
                                         runningMean: prefix + "running_mean", runningVar: prefix + "running_var"),
                        tensors: [(prefix + "weight", gamma.value), (prefix + "bias", beta.value),
                                  (prefix + "running_mean", runningMean.value), (prefix + "running_var", runningVar.value)])
    }
}

// MARK: - Layers without parameters

public final class UpsampleLayer: TrainableLayer {
    public let scale: Int
    public init(scale: Int) { self.scale = scale }
    public var kind: String { "upsample" }
    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor { Upsample.nearest(x, scale: scale) }
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        UpsampleBackward.nearest(gradOutput, scale: scale)
    }
    public func spec(prefix: String) -> LayerSpecExport? { LayerSpecExport(spec: .upsample(scale: scale), tensors: []) }
}

/// Reshape to a per-sample shape (reshape) or to one vector (flatten); backward restores the input's shape.
public final class ReshapeLayer: TrainableLayer {
    public let target: [Int]?       // nil: flatten
    private var inputShape: [Int] = []
    public init(target: [Int]?) { self.target = target }
    public var kind: String { target == nil ? "flatten" : "reshape" }
    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        inputShape = x.shape
        let perSample = x.count / max(1, x.shape[0])
        guard let target else { return x.reshaped([x.shape[0], perSample]) }
        let known = target.filter { $0 != -1 }.reduce(1, *)
        return x.reshaped([x.shape[0]] + target.map { $0 == -1 ? perSample / known : $0 })
    }
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? { gradOutput.reshaped(inputShape) }
    public func spec(prefix: String) -> LayerSpecExport? {
        LayerSpecExport(spec: target.map { .reshape($0) } ?? .flatten, tensors: [])
    }
}

public final class ActivationLayer: TrainableLayer {
    public let activation: ActivationKind
    private var output = Tensor(zeros: [0])
    public init(_ activation: ActivationKind) { self.activation = activation }
    public var kind: String { "activation" }
    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        output = activation.applied(to: x)
        return output
    }
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        activation.backward(output: output, gradOutput: gradOutput)
    }
    public func spec(prefix: String) -> LayerSpecExport? { LayerSpecExport(spec: .activation(activation), tensors: []) }
}

/// Inverted dropout: in training each value is zeroed with probability `rate` and the rest
/// scaled by 1 / (1 - rate); at inference it is the identity (and left out of model.json).
public final class DropoutLayer: TrainableLayer {
    public let rate: Float
    private var mask: [Float] = []
    public init(rate: Float) { precondition(rate >= 0 && rate < 1); self.rate = rate }
    public var kind: String { "dropout" }
    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        guard training, rate > 0 else { mask = []; return x }
        let keep = 1 / (1 - rate)
        mask = (0..<x.count).map { _ in rng.nextUnit() < Double(rate) ? 0 : keep }
        var y = x
        for i in 0..<y.count { y.data[i] *= mask[i] }
        return y
    }
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        guard !mask.isEmpty else { return gradOutput }
        var dx = gradOutput
        for i in 0..<dx.count { dx.data[i] *= mask[i] }
        return dx
    }
    public func spec(prefix: String) -> LayerSpecExport? { nil }
}

// MARK: - Embedding

/// A class-embedding table (classes, D) for conditional models: labels -> rows.
public final class Embedding {
    public let table: Parameter        // (classes, D)
    private var labels: [Int] = []

    public init(table: Tensor) { precondition(table.rank == 2); self.table = Parameter(table) }

    public var classes: Int { table.value.shape[0] }
    public var size: Int { table.value.shape[1] }

    /// N labels -> (N, D).
    public func forward(_ labels: [Int]) -> Tensor {
        self.labels = labels
        let d = size
        var out = Tensor(zeros: [labels.count, d])
        for (i, label) in labels.enumerated() {
            precondition(label >= 0 && label < classes, "class \(label) outside 0..<\(classes)")
            for k in 0..<d { out.data[i * d + k] = table.value.data[label * d + k] }
        }
        return out
    }

    /// Adds each row of gradOutput (N, D) into the gradient row of its label.
    public func backward(_ gradOutput: Tensor) {
        let d = size
        for (i, label) in labels.enumerated() {
            for k in 0..<d { table.gradient.data[label * d + k] += gradOutput.data[i * d + k] }
        }
    }
}
