import Foundation
import Tensor
import NN
import ModelIO

/// A trained discriminator kept beside its generator, for losses that need D's features
/// (projection's feature loss). model.json gets a section
///
///     "discriminator": { "weights": "discriminator.safetensors", "input_shape": [3, 64, 64],
///                        "layers": [ { "type": "conv2d", "out": 16, "kernel": 4, ... }, ... ] }
///
/// with layers as in `--architecture` files, and the weights file holds D's parameters and
/// running statistics named "<layer>.<name>" as in checkpoints (without the "D." prefix).
/// A class-conditional D sees the class as extra input channels (`LabelChannels`); its section
/// adds `"label_channels": {"classes": K, "channels": E, "embedding": "embedding"}`, its
/// input shape counts those channels, and the weights file holds the (K, E) table too.
public enum SavedDiscriminator {
    public static let key = "discriminator"
    public static let weightsFile = "discriminator.safetensors"
    static let labelChannelsKey = "label_channels", embeddingTensor = "embedding"

    /// model.json's section for `network` (and the label channels of a conditional D).
    public static func section(for network: Network, labelChannels: LabelChannels? = nil) -> JSONValue {
        var o: [String: JSONValue] = [
            "weights": .string(weightsFile), "input_shape": .array(network.inputShape.map { .number(Double($0)) }),
            "layers": .array(network.blueprints.map(\.json))]
        if let table = labelChannels?.embedding.table.value {
            o[labelChannelsKey] = .object(["classes": .number(Double(table.shape[0])), "channels": .number(Double(table.shape[1])),
                                           "embedding": .string(embeddingTensor)])
        }
        return .object(o)
    }

    /// The weights file's bytes: parameters and buffers of `network`, then the label embedding.
    public static func encodedWeights(of network: Network, labelChannels: LabelChannels? = nil) -> Data {
        let tensors = (network.namedParameters + network.namedBuffers).map { ($0.name, TensorRecord($0.parameter.value)) }
            + (labelChannels.map { [(embeddingTensor, TensorRecord($0.embedding.table.value))] } ?? [])
        return SafeTensors.encode(tensors)
    }

    /// The discriminator saved with a model, its layers up to and including `throughLayer`
    /// (nil: all), or nil when the model has none.
    public static func load(_ model: LoadedModel, throughLayer: Int? = nil) throws -> Network? {
        guard let section = model.manifest.extra[key] else { return nil }
        let manifestPath = model.directory.appendingPathComponent(ModelStore.manifestFile).path
        func fail(_ reason: String) -> ArchitectureError { ArchitectureError(path: manifestPath, reason: "'\(key)': \(reason)") }
        guard case .string(let file)? = section["weights"], !file.contains("/"), case .array(let shapeValues)? = section["input_shape"],
              let layers = section["layers"] else {
            throw fail("needs 'weights' (a file name in the model directory), 'input_shape' and 'layers'")
        }
        if section[labelChannelsKey] != nil {
            throw fail("is class-conditional (it reads the class as extra input channels), and the feature loss takes only an unconditional discriminator; drop --feature-weight")
        }
        let shape = try shapeValues.map { v -> Int in
            guard case .number(let d) = v, d == d.rounded(), d >= 1, d < 1e6 else { throw fail("'input_shape' must hold positive integers") }
            return Int(d)
        }
        // The layer list is read by the architecture parser, as part of a D-only architecture.
        let wrapper = JSONValue.object(["latent_size": .number(1), "generator": .array([]), "discriminator": layers])
        var blueprints = try GANArchitecture.parse(try JSONEncoder().encode(wrapper), path: manifestPath + " (discriminator)").discriminator
        if let throughLayer {
            guard (0..<blueprints.count).contains(throughLayer) else {
                throw fail("has layers 0 to \(blueprints.count - 1); there is no layer \(throughLayer)")
            }
            blueprints = Array(blueprints[...throughLayer])
        }
        var rng = RandomStream(seed: 0)
        let network: Network
        do { network = try Network(inputShape: shape, blueprints: blueprints, initialisation: .dcgan, rng: &rng) } catch {
            throw fail("\(error)")
        }
        let url = model.directory.appendingPathComponent(file)
        let records: [String: TensorRecord]
        do {
            records = Dictionary(try SafeTensors.read(url).map { ($0.name, $0.record) }, uniquingKeysWith: { a, _ in a })
        } catch {
            throw ModelError.cannotRead(path: url.path, reason: "the discriminator's weights: \(error)")
        }
        for (name, p) in network.namedParameters + network.namedBuffers {
            guard let r = records[name], r.shape == p.value.shape else {
                throw ModelError.missingTensor(path: url.path, layer: "discriminator", tensor: "\(name) of shape \(p.value.shape)")
            }
            guard r.values.allSatisfy(\.isFinite) else { throw ModelError.nonFinite(path: url.path, tensor: name, index: 0) }
            p.value = r.tensor
        }
        for p in network.parameters { p.requiresGradient = false }
        return network
    }

    /// The layer whose output serves as features by default: the last activation before the
    /// final layer (DCGAN's D: after its last leaky relu, before the 4x4 logit convolution).
    public static func defaultFeatureLayer(_ blueprints: [LayerBlueprint]) -> Int? {
        blueprints.indices.dropLast().last { if case .activation = blueprints[$0] { return true } else { return false } }
    }
}

extension LayerBlueprint {
    /// The layer as an `--architecture` file writes it.
    public var json: JSONValue {
        func n(_ v: Int) -> JSONValue { .number(Double(v)) }
        switch self {
        case .linear(let out, let bias): return .object(["type": .string("linear"), "out": n(out), "bias": .bool(bias)])
        case .conv2d(let out, let k, let s, let p, let bias):
            return .object(["type": .string("conv2d"), "out": n(out), "kernel": n(k), "stride": n(s), "padding": n(p), "bias": .bool(bias)])
        case .convTranspose2d(let out, let k, let s, let p, let op, let bias):
            return .object(["type": .string("convtranspose2d"), "out": n(out), "kernel": n(k), "stride": n(s), "padding": n(p),
                            "output_padding": n(op), "bias": .bool(bias)])
        case .upsample(let s): return .object(["type": .string("upsample"), "scale": n(s)])
        case .batchNorm(let eps, let momentum):
            return .object(["type": .string("batchnorm"), "eps": .number(Double(eps)), "momentum": .number(Double(momentum))])
        case .reshape(let shape): return .object(["type": .string("reshape"), "shape": .array(shape.map(n))])
        case .flatten: return .object(["type": .string("flatten")])
        case .dropout(let rate): return .object(["type": .string("dropout"), "rate": .number(Double(rate))])
        case .activation(let a):
            switch a {
            case .identity: return .object(["type": .string("identity")])
            case .relu: return .object(["type": .string("relu")])
            case .tanh: return .object(["type": .string("tanh")])
            case .sigmoid: return .object(["type": .string("sigmoid")])
            case .leakyReLU(let slope): return .object(["type": .string("leakyrelu"), "slope": .number(Double(slope))])
            }
        }
    }
}
