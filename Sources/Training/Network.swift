import Foundation
import Tensor
import NN
import ModelIO

/// A layer as an architecture describes it: output sizes only; input sizes follow from the
/// previous layer's shape when the network is built.
public enum LayerBlueprint: Equatable, Sendable {
    case linear(out: Int, bias: Bool)
    case conv2d(out: Int, kernel: Int, stride: Int, padding: Int, bias: Bool)
    case convTranspose2d(out: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int, bias: Bool)
    case upsample(scale: Int)
    case batchNorm(eps: Float, momentum: Float)
    case reshape([Int])
    case flatten
    case activation(ActivationKind)
    case dropout(rate: Float)
}

/// How fresh weights are drawn.
public enum Initialisation: String, CaseIterable, Sendable {
    /// DCGAN (Radford et al.): conv/linear weights N(0, 0.02), batch norm scale N(1, 0.02), biases 0.
    case dcgan
    /// PyTorch's default (Kaiming-uniform with a = sqrt(5)): weights and biases U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    case fanInUniform = "fan-in-uniform"
    /// Glorot/Xavier uniform: U(-sqrt(6 / (fanIn + fanOut)), +), biases 0.
    case xavierUniform = "xavier-uniform"
    /// He/Kaiming normal for relu: N(0, sqrt(2 / fanIn)), biases 0.
    case heNormal = "he-normal"
}

/// A chain of trainable layers with every shape checked once at build.
public final class Network {
    /// Per-sample input shape, e.g. [100] or [1, 28, 28].
    public let inputShape: [Int]
    public let layers: [TrainableLayer]
    public let blueprints: [LayerBlueprint]
    /// Per-sample output shape of every layer.
    public let shapes: [[Int]]

    public struct BuildError: Error, CustomStringConvertible {
        public let layerIndex: Int
        public let reason: String
        public var description: String { "layer \(layerIndex): \(reason)" }
    }

    public init(inputShape: [Int], blueprints: [LayerBlueprint], initialisation: Initialisation,
                rng: inout RandomStream) throws {
        var layers: [TrainableLayer] = []
        var shapes: [[Int]] = []
        var current = inputShape
        for (i, bp) in blueprints.enumerated() {
            func fail(_ reason: String) -> BuildError { BuildError(layerIndex: i, reason: reason) }
            let layer: TrainableLayer
            switch bp {
            case .linear(let out, let bias):
                guard current.count == 1 else { throw fail("linear needs a flat input, got \(describeShape(current)); add a flatten layer before it") }
                layer = DenseLayer(inFeatures: current[0], outFeatures: out, bias: bias)
                current = [out]
            case .conv2d(let out, let k, let s, let p, let bias):
                guard current.count == 3 else { throw fail("conv2d needs (C, H, W), got \(describeShape(current)); add a reshape layer before it") }
                let g = ConvGeometry(inChannels: current[0], outChannels: out, kernel: k, stride: s, padding: p)
                let (h, w) = g.convOutputSize(height: current[1], width: current[2])
                guard h > 0, w > 0 else { throw fail("conv2d kernel \(k) does not fit input \(describeShape(current))") }
                layer = Conv2dLayer(geometry: g, bias: bias)
                current = [out, h, w]
            case .convTranspose2d(let out, let k, let s, let p, let op, let bias):
                guard current.count == 3 else { throw fail("convtranspose2d needs (C, H, W), got \(describeShape(current)); add a reshape layer before it") }
                let g = ConvGeometry(inChannels: current[0], outChannels: out, kernel: k, stride: s, padding: p, outputPadding: op)
                let (h, w) = g.transposedOutputSize(height: current[1], width: current[2])
                guard h > 0, w > 0 else { throw fail("convtranspose2d output would be empty for input \(describeShape(current))") }
                layer = ConvTranspose2dLayer(geometry: g, bias: bias)
                current = [out, h, w]
            case .upsample(let s):
                guard current.count == 3, s >= 1 else { throw fail("upsample needs (C, H, W) and a scale >= 1") }
                layer = UpsampleLayer(scale: s)
                current = [current[0], current[1] * s, current[2] * s]
            case .batchNorm(let eps, let momentum):
                guard current.count == 1 || current.count == 3 else { throw fail("batchnorm needs (C) or (C, H, W), got \(describeShape(current))") }
                layer = BatchNormLayer(features: current[0], eps: eps, momentum: momentum)
            case .reshape(let target):
                switch Layer.reshape(target).outputShape(for: current) {
                case .success(let next): current = next
                case .failure(let m): throw fail("reshape \(target) expects \(m.expected) but gets \(describeShape(current))")
                }
                layer = ReshapeLayer(target: target)
            case .flatten:
                layer = ReshapeLayer(target: nil)
                current = [current.reduce(1, *)]
            case .activation(let a):
                layer = ActivationLayer(a)
            case .dropout(let rate):
                guard rate >= 0, rate < 1 else { throw fail("dropout rate must be in [0, 1), got \(rate)") }
                layer = DropoutLayer(rate: rate)
            }
            layers.append(layer)
            shapes.append(current)
        }
        self.inputShape = inputShape
        self.layers = layers
        self.blueprints = blueprints
        self.shapes = shapes
        initialise(initialisation, rng: &rng)
    }

    public var outputShape: [Int] { shapes.last ?? inputShape }

    /// (N, ...) -> (N, outputShape...). The input is viewed with `inputShape` first.
    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        var y = x.reshaped([x.shape[0]] + inputShape)
        for layer in layers { y = layer.forward(y, training: training, rng: &rng) }
        return y
    }

    /// Backpropagates the output's gradient through the last forward; returns the input's
    /// gradient (N, inputShape...) when asked, else nil (the first layer skips it).
    @discardableResult
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool = false) -> Tensor? {
        var g: Tensor? = gradOutput
        for (i, layer) in layers.enumerated().reversed() {
            g = layer.backward(g!, needInputGradient: i > 0 || needInputGradient)
        }
        return g
    }

    /// Backpropagates only to the input: the parameters' gradients are left as they are and
    /// the work for them is skipped (the generator step through D, whose gradients it discards).
    public func inputGradient(_ gradOutput: Tensor) -> Tensor {
        let ps = parameters, previous = ps.map(\.requiresGradient)
        for p in ps { p.requiresGradient = false }
        defer { for (p, was) in zip(ps, previous) { p.requiresGradient = was } }
        return backward(gradOutput, needInputGradient: true)!
    }

    /// Every trainable parameter, named as in the saved files: "<layer>.<name>".
    public var namedParameters: [(name: String, parameter: Parameter)] {
        layers.enumerated().flatMap { i, l in l.parameters.map { ("\(i).\($0.name)", $0.parameter) } }
    }

    /// Running statistics and other non-trained state, named the same way.
    public var namedBuffers: [(name: String, parameter: Parameter)] {
        layers.enumerated().flatMap { i, l in l.buffers.map { ("\(i).\($0.name)", $0.parameter) } }
    }

    public var parameters: [Parameter] { namedParameters.map(\.parameter) }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    public func zeroGradients() { for p in parameters { p.zeroGradient() } }

    /// The inference layers and their tensors for `model.json` (dropout left out).
    public func exportSpecs() -> (layers: [LayerSpec], tensors: [(name: String, record: TensorRecord)]) {
        var specs: [LayerSpec] = [], tensors: [(name: String, record: TensorRecord)] = []
        for (i, layer) in layers.enumerated() {
            guard let e = layer.spec(prefix: "\(i).") else { continue }
            specs.append(e.spec)
            tensors += e.tensors.map { ($0.name, TensorRecord($0.tensor)) }
        }
        return (specs, tensors)
    }

    // MARK: Initialisation

    public func initialise(_ scheme: Initialisation, rng: inout RandomStream) {
        func normal(_ n: Int, mean: Float, std: Float) -> [Float] {
            (0..<n).map { _ in mean + std * Float(rng.nextNormal()) }
        }
        func uniform(_ n: Int, bound: Float) -> [Float] {
            (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * bound }
        }
        for layer in layers {
            let weight: Parameter?, bias: Parameter?, fanIn: Int, fanOut: Int
            switch layer {
            case let l as DenseLayer:
                weight = l.weight; bias = l.bias; fanIn = l.weight.value.shape[1]; fanOut = l.weight.value.shape[0]
            case let l as Conv2dLayer:
                let k = l.geometry.kernelHeight * l.geometry.kernelWidth
                weight = l.weight; bias = l.bias; fanIn = l.geometry.inChannels * k; fanOut = l.geometry.outChannels * k
            case let l as ConvTranspose2dLayer:
                // PyTorch reads fan-in from weight dim 1 (O) for transposed convolutions.
                let k = l.geometry.kernelHeight * l.geometry.kernelWidth
                weight = l.weight; bias = l.bias; fanIn = l.geometry.outChannels * k; fanOut = l.geometry.inChannels * k
            case let l as BatchNormLayer:
                let c = l.gamma.value.count
                l.gamma.value.data = scheme == .dcgan ? normal(c, mean: 1, std: 0.02) : [Float](repeating: 1, count: c)
                l.beta.value.data = [Float](repeating: 0, count: c)
                continue
            default:
                continue
            }
            guard let weight else { continue }
            let n = weight.value.count
            switch scheme {
            case .dcgan: weight.value.data = normal(n, mean: 0, std: 0.02)
            case .fanInUniform: weight.value.data = uniform(n, bound: 1 / Float(fanIn).squareRoot())
            case .xavierUniform: weight.value.data = uniform(n, bound: (6 / Float(fanIn + fanOut)).squareRoot())
            case .heNormal: weight.value.data = normal(n, mean: 0, std: (2 / Float(fanIn)).squareRoot())
            }
            if let bias {
                bias.value.data = scheme == .fanInUniform ? uniform(bias.value.count, bound: 1 / Float(fanIn).squareRoot())
                    : [Float](repeating: 0, count: bias.value.count)
            }
        }
    }
}
