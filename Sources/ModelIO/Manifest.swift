import Foundation
import Safety
import Tensor
import NN

/// The latent prior a model was trained with (Latent calls it `LatentPrior` and samples it).
public enum LatentDistribution: Equatable, Sendable {
    /// N(0, 1) per component (pytorch/examples DCGAN).
    case normal
    /// U(low, high) per component (U(-1, 1) in the DCGAN paper, U(0, 1) in some ports).
    case uniform(low: Float, high: Float)
}

/// One layer as `model.json` describes it: sizes and the names of its tensors.
public enum LayerSpec: Equatable, Sendable {
    case linear(inFeatures: Int, outFeatures: Int, weight: String, bias: String?)
    case conv2d(ConvGeometry, weight: String, bias: String?)
    case convTranspose2d(ConvGeometry, weight: String, bias: String?)
    case upsample(scale: Int)
    case batchNorm(features: Int, eps: Float, weight: String?, bias: String?, runningMean: String, runningVar: String)
    case reshape([Int])
    case flatten
    case activation(ActivationKind)

    public var typeName: String {
        switch self {
        case .linear: return "linear"
        case .conv2d: return "conv2d"
        case .convTranspose2d: return "convtranspose2d"
        case .upsample: return "upsample"
        case .batchNorm: return "batchnorm"
        case .reshape: return "reshape"
        case .flatten: return "flatten"
        case .activation(let a): return Layer.activation(a).kind
        }
    }
}

/// Class conditioning declared by a manifest: an embedding table joined to the latent.
public struct ConditioningSpec: Equatable, Sendable {
    public var classes: Int
    public var embedding: String
    public var join: Conditioning.Join
    /// Optional names of the classes, e.g. ["0", ..., "9"] or ["tshirt", ...].
    public var labels: [String]?

    public init(classes: Int, embedding: String, join: Conditioning.Join, labels: [String]? = nil) {
        self.classes = classes; self.embedding = embedding; self.join = join; self.labels = labels
    }
}

/// `model.json`: what a model is, how its latent is drawn and viewed, and its layers.
public struct ModelManifest: Equatable, Sendable {
    public static let formatName = "forger-model"
    public static let currentVersion = 1
    /// Bounds on the sizes a manifest declares, checked as it is read: far above any GAN
    /// generator of this kind, low enough that no product of them overflows.
    public static let maximumLatentSize = 1 << 20
    public static let maximumFeatures = 1 << 24
    public static let maximumChannels = 1 << 16
    public static let maximumKernel = 256

    public var name: String
    public var description: String
    public var latentSize: Int
    public var latentShape: [Int]?
    public var distribution: LatentDistribution
    public var outputChannels: Int
    public var outputHeight: Int
    public var outputWidth: Int
    /// The generator's output range: (-1, 1) for tanh, (0, 1) for sigmoid.
    public var outputRange: (Float, Float)
    public var conditioning: ConditioningSpec?
    public var layers: [LayerSpec]
    /// Provenance written by training or import: data, command, epochs, time, machine.
    public var training: JSONValue?
    /// Keys Forger does not know, kept as they were.
    public var extra: [String: JSONValue]

    public init(name: String, description: String = "", latentSize: Int, latentShape: [Int]? = nil,
                distribution: LatentDistribution = .normal, outputChannels: Int, outputHeight: Int,
                outputWidth: Int, outputRange: (Float, Float) = (-1, 1),
                conditioning: ConditioningSpec? = nil, layers: [LayerSpec],
                training: JSONValue? = nil, extra: [String: JSONValue] = [:]) {
        self.name = name; self.description = description; self.latentSize = latentSize
        self.latentShape = latentShape; self.distribution = distribution
        self.outputChannels = outputChannels; self.outputHeight = outputHeight
        self.outputWidth = outputWidth; self.outputRange = outputRange
        self.conditioning = conditioning; self.layers = layers; self.training = training
        self.extra = extra
    }

    public static func == (a: ModelManifest, b: ModelManifest) -> Bool {
        a.name == b.name && a.description == b.description && a.latentSize == b.latentSize
            && a.latentShape == b.latentShape && a.distribution == b.distribution
            && a.outputChannels == b.outputChannels && a.outputHeight == b.outputHeight
            && a.outputWidth == b.outputWidth && a.outputRange == b.outputRange
            && a.conditioning == b.conditioning && a.layers == b.layers
            && a.training == b.training && a.extra == b.extra
    }

    /// Every tensor name the layers reference, in layer order.
    public var referencedTensors: [String] {
        var names: [String] = conditioning.map { [$0.embedding] } ?? []
        for layer in layers {
            switch layer {
            case .linear(_, _, let w, let b), .conv2d(_, let w, let b), .convTranspose2d(_, let w, let b):
                names.append(w); if let b { names.append(b) }
            case .batchNorm(_, _, let w, let b, let m, let v):
                names += [w, b, m, v].compactMap { $0 }
            default: break
            }
        }
        return names
    }
}

// MARK: - Parsing

extension ModelManifest {
    private static let knownKeys: Set<String> = ["format", "version", "name", "description", "latent",
                                                 "output", "conditioning", "layers", "training"]

    /// Parses `model.json` bytes; `path` is only used in messages.
    public static func parse(_ data: Data, path: String) throws -> ModelManifest {
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw ModelError.badManifest(path: path, reason: "not valid JSON (\(jsonErrorSummary(error)))")
        }
        var p = FieldReader(path: path, context: "model.json")
        guard case .object(let top) = root else { throw p.fail("the top level must be a JSON object") }
        let format = try p.string(top, "format")
        guard format == formatName else {
            throw ModelError.unsupportedFormat(path: path, found: "format \"\(format)\"", expected: "\"\(formatName)\"")
        }
        let version = try p.int(top, "version")
        guard version == currentVersion else {
            throw ModelError.unsupportedFormat(path: path, found: "version \(version)",
                                               expected: "version \(currentVersion); upgrade Forger to read newer models")
        }
        let latent = try p.object(top, "latent")
        p.context = "latent"
        let size = try p.size(latent, "size", maximum: Self.maximumLatentSize)
        let shape = try p.optionalIntArray(latent, "shape")
        var distribution = LatentDistribution.normal
        if let dist = latent["distribution"] {
            guard case .object(let d) = dist else { throw p.fail("'distribution' must be an object like {\"kind\": \"normal\"}") }
            p.context = "latent.distribution"
            switch try p.string(d, "kind") {
            case "normal": distribution = .normal
            case "uniform":
                let low = try p.float(d, "low"), high = try p.float(d, "high")
                guard low < high else { throw p.fail("'low' (\(low)) must be below 'high' (\(high))") }
                distribution = .uniform(low: low, high: high)
            case let other: throw p.fail("unknown kind \"\(other)\"; use \"normal\" or \"uniform\"")
            }
        }
        p.context = "output"
        let output = try p.object(top, "output")
        let channels = try p.size(output, "channels", maximum: 4)
        let height = try p.size(output, "height", maximum: Limits.maximumSide), width = try p.size(output, "width", maximum: Limits.maximumSide)
        guard channels * height * width <= Limits.maximumStageElements else {
            throw p.fail("\(channels) x \(height) x \(width) is more than the \(Limits.maximumStageElements) values an image may hold")
        }
        var range: (Float, Float) = (-1, 1)
        if let r = output["range"] {
            guard case .array(let a) = r, a.count == 2, case .number(let lo) = a[0], case .number(let hi) = a[1], lo < hi else {
                throw p.fail("'range' must be [low, high], e.g. [-1, 1] or [0, 1]")
            }
            range = (Float(lo), Float(hi))
        }
        var conditioning: ConditioningSpec? = nil
        if let c = top["conditioning"], c != .null {
            p.context = "conditioning"
            guard case .object(let co) = c else { throw p.fail("must be an object") }
            let joinName = try p.string(co, "join")
            guard let join = Conditioning.Join(rawValue: joinName) else {
                throw p.fail("unknown join \"\(joinName)\"; use concat-latent-first, concat-label-first or multiply")
            }
            var labels: [String]? = nil
            if case .array(let a)? = co["labels"] {
                labels = try a.map { v -> String in
                    guard case .string(let s) = v else { throw p.fail("'labels' must be strings") }
                    return s
                }
            }
            conditioning = ConditioningSpec(classes: try p.int(co, "classes"), embedding: try p.string(co, "embedding"),
                                            join: join, labels: labels)
        }
        p.context = "model.json"
        guard case .array(let layerValues)? = top["layers"] else { throw p.fail("'layers' must be an array of layer objects") }
        var layers: [LayerSpec] = []
        for (i, value) in layerValues.enumerated() {
            layers.append(try LayerSpec.parse(value, index: i, path: path))
        }
        var extra: [String: JSONValue] = [:]
        for (k, v) in top where !knownKeys.contains(k) { extra[k] = v }
        let training = top["training"].flatMap { $0 == .null ? nil : $0 }
        return ModelManifest(name: try p.string(top, "name"),
                             description: top["description"].flatMap { if case .string(let s) = $0 { return s } else { return nil } } ?? "",
                             latentSize: size, latentShape: shape, distribution: distribution,
                             outputChannels: channels, outputHeight: height, outputWidth: width,
                             outputRange: range, conditioning: conditioning, layers: layers,
                             training: training, extra: extra)
    }
}

extension LayerSpec {
    static func parse(_ value: JSONValue, index: Int, path: String) throws -> LayerSpec {
        var p = FieldReader(path: path, context: "layer \(index)")
        guard case .object(let o) = value else { throw p.fail("must be an object with a \"type\"") }
        let type = try p.string(o, "type")
        p.context = "layer \(index) (\(type))"
        switch type {
        case "linear":
            return .linear(inFeatures: try p.size(o, "in", maximum: ModelManifest.maximumFeatures),
                           outFeatures: try p.size(o, "out", maximum: ModelManifest.maximumFeatures),
                           weight: try p.string(o, "weight"), bias: try p.optionalString(o, "bias"))
        case "conv2d", "convtranspose2d":
            let (kh, kw) = try p.pair(o, "kernel", default: nil)
            let (sh, sw) = try p.pair(o, "stride", default: (1, 1))
            let padding = try p.padding(o, "padding")
            let (oph, opw) = type == "conv2d" ? (0, 0) : try p.pair(o, "output_padding", default: (0, 0))
            let g = ConvGeometry(inChannels: try p.size(o, "in", maximum: ModelManifest.maximumChannels),
                                 outChannels: try p.size(o, "out", maximum: ModelManifest.maximumChannels),
                                 kernelHeight: kh, kernelWidth: kw, strideHeight: sh, strideWidth: sw,
                                 padding: padding, outputPaddingHeight: oph, outputPaddingWidth: opw)
            guard g.inChannels > 0, g.outChannels > 0, kh > 0, kw > 0, sh > 0, sw > 0,
                  [padding.top, padding.bottom, padding.left, padding.right, oph, opw].allSatisfy({ $0 >= 0 }) else {
                throw p.fail("channels, kernel and stride must be positive and padding non-negative")
            }
            let geometry = [kh, kw, sh, sw, padding.top, padding.bottom, padding.left, padding.right, oph, opw]
            guard geometry.allSatisfy({ $0 <= ModelManifest.maximumKernel }) else {
                throw p.fail("kernel, stride and padding must be at most \(ModelManifest.maximumKernel)")
            }
            if type == "convtranspose2d", oph >= sh || opw >= sw {
                throw p.fail("output_padding must be smaller than the stride, as in PyTorch")
            }
            let weight = try p.string(o, "weight"), bias = try p.optionalString(o, "bias")
            return type == "conv2d" ? .conv2d(g, weight: weight, bias: bias) : .convTranspose2d(g, weight: weight, bias: bias)
        case "upsample":
            if let mode = try p.optionalString(o, "mode"), mode != "nearest" {
                throw p.fail("mode \"\(mode)\" is not supported; only \"nearest\"")
            }
            let scale = try p.size(o, "scale", maximum: ModelManifest.maximumKernel)
            return .upsample(scale: scale)
        case "batchnorm":
            let eps = o["eps"] == nil ? LayerDefaults.batchNormEps : try p.float(o, "eps")
            guard eps > 0 else { throw p.fail("'eps' must be positive") }
            return .batchNorm(features: try p.size(o, "features", maximum: ModelManifest.maximumFeatures), eps: eps,
                              weight: try p.optionalString(o, "weight"), bias: try p.optionalString(o, "bias"),
                              runningMean: try p.string(o, "running_mean"), runningVar: try p.string(o, "running_var"))
        case "reshape":
            guard let shape = try p.optionalIntArray(o, "shape"), !shape.isEmpty,
                  shape.allSatisfy({ ($0 > 0 && $0 <= Limits.maximumStageElements) || $0 == -1 }), shape.filter({ $0 == -1 }).count <= 1 else {
                throw p.fail("'shape' must be a list of positive sizes with at most one -1")
            }
            return .reshape(shape)
        case "flatten": return .flatten
        default:
            let slope = type == "leakyrelu" && o["slope"] != nil ? try p.float(o, "slope") : nil
            guard let activation = LayerDefaults.activation(type: type, slope: slope) else {
                throw ModelError.unknownLayerType(path: path, index: index, type: type)
            }
            return .activation(activation)
        }
    }
}

/// Reads typed fields out of JSON objects, failing with the file, the place and the key.
struct FieldReader {
    let path: String
    var context: String

    func fail(_ reason: String) -> ModelError { .badManifest(path: path, reason: "\(context): \(reason)") }

    func object(_ o: [String: JSONValue], _ key: String) throws -> [String: JSONValue] {
        guard case .object(let v)? = o[key] else { throw fail("missing object '\(key)'") }
        return v
    }
    func string(_ o: [String: JSONValue], _ key: String) throws -> String {
        guard case .string(let s)? = o[key] else { throw fail("missing string '\(key)'") }
        return s
    }
    func optionalString(_ o: [String: JSONValue], _ key: String) throws -> String? {
        switch o[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw fail("'\(key)' must be a tensor name or null")
        }
    }
    func int(_ o: [String: JSONValue], _ key: String) throws -> Int {
        guard case .number(let d)? = o[key], d == d.rounded(), abs(d) < 1e12 else { throw fail("missing integer '\(key)'") }
        return Int(d)
    }
    /// A positive integer of at most `maximum`: a size that will be allocated from.
    func size(_ o: [String: JSONValue], _ key: String, maximum: Int) throws -> Int {
        let v = try int(o, key)
        guard (1...maximum).contains(v) else { throw fail("'\(key)' must be 1 to \(maximum), got \(v)") }
        return v
    }
    func float(_ o: [String: JSONValue], _ key: String) throws -> Float {
        guard case .number(let d)? = o[key], d.isFinite else { throw fail("missing number '\(key)'") }
        return Float(d)
    }
    func intArray(_ v: JSONValue, _ key: String) throws -> [Int] {
        switch v {
        case .number(let d) where d == d.rounded() && abs(d) < 1e12: return [Int(d)]
        case .array(let a):
            return try a.map { x -> Int in
                guard case .number(let d) = x, d == d.rounded(), abs(d) < 1e12 else { throw fail("'\(key)' must hold integers") }
                return Int(d)
            }
        default: throw fail("'\(key)' must be an integer or a list of integers")
        }
    }
    func optionalIntArray(_ o: [String: JSONValue], _ key: String) throws -> [Int]? {
        guard let v = o[key], v != .null else { return nil }
        return try intArray(v, key)
    }
    /// An int n (-> n, n) or [h, w].
    func pair(_ o: [String: JSONValue], _ key: String, default def: (Int, Int)?) throws -> (Int, Int) {
        guard let v = o[key], v != .null else {
            if let def { return def }
            throw fail("missing '\(key)'")
        }
        let a = try intArray(v, key)
        switch a.count {
        case 1: return (a[0], a[0])
        case 2: return (a[0], a[1])
        default: throw fail("'\(key)' must be an integer or [h, w]")
        }
    }
    /// An int, [h, w] or [top, bottom, left, right].
    func padding(_ o: [String: JSONValue], _ key: String) throws -> Padding2D {
        guard let v = o[key], v != .null else { return Padding2D(0) }
        let a = try intArray(v, key)
        switch a.count {
        case 1: return Padding2D(a[0])
        case 2: return Padding2D(height: a[0], width: a[1])
        case 4: return Padding2D(top: a[0], bottom: a[1], left: a[2], right: a[3])
        default: throw fail("'\(key)' must be an integer, [h, w] or [top, bottom, left, right]")
        }
    }
}

func jsonErrorSummary(_ error: Error) -> String {
    if case DecodingError.dataCorrupted(let c) = error {
        return (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? c.debugDescription
    }
    return "\(error)"
}
