import Foundation
import Tensor
import ModelIO

/// A generator/discriminator pair as blueprints: what `forger train` builds and trains.
public struct GANArchitecture: Equatable, Sendable {
    public var name: String
    public var latentSize: Int
    /// How a latent is viewed before G's first layer, e.g. [100, 1, 1]; nil: flat.
    public var latentShape: [Int]?
    public var generator: [LayerBlueprint]
    /// D ends in one logit per image (no sigmoid: the losses take logits).
    public var discriminator: [LayerBlueprint]

    public init(name: String, latentSize: Int, latentShape: [Int]? = nil,
                generator: [LayerBlueprint], discriminator: [LayerBlueprint]) {
        self.name = name; self.latentSize = latentSize; self.latentShape = latentShape
        self.generator = generator; self.discriminator = discriminator
    }

    /// The range of G's output: (0, 1) after a sigmoid, (-1, 1) otherwise (tanh).
    public var outputRange: (Float, Float) {
        if case .activation(.sigmoid)? = generator.last { return (0, 1) }
        return (-1, 1)
    }

    // MARK: Presets

    /// The architectures `forger train --preset` names.
    public enum Preset: String, CaseIterable, Sendable {
        case postMNIST = "post-mnist", dcgan, dcganUpsample = "dcgan-upsample"
    }

    /// `preset` for images of `channels` x `height` x `width`, or an error that says which
    /// sizes it makes. `width` and `latentSize` default as each preset's documentation says.
    public static func preset(_ preset: Preset, channels: Int, height: Int, width imageWidth: Int,
                              width: Int? = nil, latentSize: Int? = nil) throws -> GANArchitecture {
        func refuse(_ sizes: String, _ option: String) -> ArchitectureError {
            ArchitectureError(path: preset.rawValue, reason: "the preset makes \(sizes) but the data is \(imageWidth)x\(height); pass \(option)")
        }
        switch preset {
        case .postMNIST:
            guard height == 28, imageWidth == 28 else { throw refuse("28x28 images", "--image-size 28") }
            return .postMNIST(width: width ?? 16, latentSize: latentSize ?? 16, channels: channels)
        case .dcgan:
            guard height == imageWidth, let a = dcgan(size: height, channels: channels, width: width ?? 64, latentSize: latentSize ?? 100) else {
                throw refuse("28, 32 or 64 pixel squares", "--image-size 28, 32 or 64")
            }
            return a
        case .dcganUpsample:
            guard height == imageWidth, let a = dcganUpsample(size: height, channels: channels, width: width ?? 64, latentSize: latentSize ?? 100) else {
                throw refuse("32 or 64 pixel squares", "--image-size 32 or 64")
            }
            return a
        }
    }

    /// The 2016 post's MNIST generator: dense, batch norm, reshape, nearest upsampling and
    /// 3x3 convolutions with padding 2 (each grows the image by 2), sigmoid output, 28x28.
    /// `width` is the first convolution's channel count (the post: 16); later ones halve.
    /// D: two strided 4x4 convolutions with leaky relu, dropout, one logit.
    public static func postMNIST(width w: Int = 16, latentSize: Int = 16, channels: Int = 1) -> GANArchitecture {
        let bn = LayerBlueprint.batchNorm(eps: 1e-5, momentum: 0.1)
        let h = max(1, w / 2), q = max(1, w / 4)
        return GANArchitecture(
            name: "post-mnist", latentSize: latentSize,
            generator: [
                .linear(out: w * 16, bias: true), bn, .activation(.relu), .reshape([w, 4, 4]),   // (N, w, 4, 4)
                .upsample(scale: 2),                                                            // (N, w, 8, 8)
                .conv2d(out: w, kernel: 3, stride: 1, padding: 2, bias: true), bn, .activation(.relu),  // (N, w, 10, 10)
                .upsample(scale: 2),                                                            // (N, w, 20, 20)
                .conv2d(out: h, kernel: 3, stride: 1, padding: 2, bias: true), bn, .activation(.relu),  // (N, w/2, 22, 22)
                .conv2d(out: h, kernel: 3, stride: 1, padding: 2, bias: true), bn, .activation(.relu),  // (N, w/2, 24, 24)
                .conv2d(out: q, kernel: 3, stride: 1, padding: 2, bias: true), bn, .activation(.relu),  // (N, w/4, 26, 26)
                .conv2d(out: channels, kernel: 3, stride: 1, padding: 2, bias: true), .activation(.sigmoid),  // (N, C, 28, 28)
            ],
            discriminator: [
                .conv2d(out: w, kernel: 4, stride: 2, padding: 1, bias: true), .activation(.leakyReLU(slope: 0.2)),      // (N, w, 14, 14)
                .conv2d(out: 2 * w, kernel: 4, stride: 2, padding: 1, bias: true), .activation(.leakyReLU(slope: 0.2)),  // (N, 2w, 7, 7)
                .flatten, .dropout(rate: 0.3), .linear(out: 1, bias: true),                                             // (N, 1)
            ])
    }

    /// The DCGAN pair (Radford et al.; pytorch/examples dcgan) at 28, 32 or 64 pixels.
    /// `width` is ngf = ndf (64 in the paper); tanh output in (-1, 1).
    public static func dcgan(size: Int, channels: Int, width w: Int = 64, latentSize: Int = 100) -> GANArchitecture? {
        let bn = LayerBlueprint.batchNorm(eps: 1e-5, momentum: 0.1)
        let relu = LayerBlueprint.activation(.relu), leaky = LayerBlueprint.activation(.leakyReLU(slope: 0.2))
        func up(_ out: Int, _ k: Int = 4, _ s: Int = 2, _ p: Int = 1) -> LayerBlueprint {
            .convTranspose2d(out: out, kernel: k, stride: s, padding: p, outputPadding: 0, bias: false)
        }
        func down(_ out: Int, _ k: Int = 4, _ s: Int = 2, _ p: Int = 1) -> LayerBlueprint {
            .conv2d(out: out, kernel: k, stride: s, padding: p, bias: false)
        }
        let g: [LayerBlueprint], d: [LayerBlueprint]
        switch size {
        case 64:
            g = [up(8 * w, 4, 1, 0), bn, relu,      // (N, 8w, 4, 4)
                 up(4 * w), bn, relu,               // (N, 4w, 8, 8)
                 up(2 * w), bn, relu,               // (N, 2w, 16, 16)
                 up(w), bn, relu,                   // (N, w, 32, 32)
                 up(channels), .activation(.tanh)]  // (N, C, 64, 64)
            d = [down(w), leaky,                    // (N, w, 32, 32)
                 down(2 * w), bn, leaky,            // (N, 2w, 16, 16)
                 down(4 * w), bn, leaky,            // (N, 4w, 8, 8)
                 down(8 * w), bn, leaky,            // (N, 8w, 4, 4)
                 down(1, 4, 1, 0), .flatten]        // (N, 1)
        case 32:
            g = [up(4 * w, 4, 1, 0), bn, relu,      // (N, 4w, 4, 4)
                 up(2 * w), bn, relu,               // (N, 2w, 8, 8)
                 up(w), bn, relu,                   // (N, w, 16, 16)
                 up(channels), .activation(.tanh)]  // (N, C, 32, 32)
            d = [down(w), leaky,                    // (N, w, 16, 16)
                 down(2 * w), bn, leaky,            // (N, 2w, 8, 8)
                 down(4 * w), bn, leaky,            // (N, 4w, 4, 4)
                 down(1, 4, 1, 0), .flatten]        // (N, 1)
        case 28:
            g = [up(4 * w, 4, 1, 0), bn, relu,      // (N, 4w, 4, 4)
                 up(2 * w, 3, 2, 1), bn, relu,      // (N, 2w, 7, 7)
                 up(w), bn, relu,                   // (N, w, 14, 14)
                 up(channels), .activation(.tanh)]  // (N, C, 28, 28)
            d = [down(w), leaky,                    // (N, w, 14, 14)
                 down(2 * w), bn, leaky,            // (N, 2w, 7, 7)
                 down(4 * w, 3, 2, 1), bn, leaky,   // (N, 4w, 4, 4)
                 down(1, 4, 1, 0), .flatten]        // (N, 1)
        default:
            return nil
        }
        return GANArchitecture(name: "dcgan\(size)", latentSize: latentSize, latentShape: [latentSize, 1, 1],
                               generator: g, discriminator: d)
    }

    /// The DCGAN pair with a generator that grows by nearest upsampling and a 3x3 convolution
    /// (padding 1) instead of stride-2 transposed convolutions (Odena et al. 2016, "Deconvolution
    /// and checkerboard artifacts"; the 2016 post's style), at 32 or 64 pixels. D is DCGAN's.
    /// On LFW at 64 px and small widths the transposed-convolution generator never leaves
    /// structureless noise (PyTorch 1.13 shows the same); this one makes faces within 300 steps.
    public static func dcganUpsample(size: Int, channels: Int, width w: Int = 64, latentSize: Int = 100) -> GANArchitecture? {
        guard size == 32 || size == 64, let pair = dcgan(size: size, channels: channels, width: w, latentSize: latentSize) else {
            return nil
        }
        let bn = LayerBlueprint.batchNorm(eps: 1e-5, momentum: 0.1)
        func grow(_ out: Int, last: Bool = false) -> [LayerBlueprint] {
            [.upsample(scale: 2), .conv2d(out: out, kernel: 3, stride: 1, padding: 1, bias: last)]
                + (last ? [.activation(.tanh)] : [bn, .activation(.relu)])
        }
        let top = size == 64 ? 8 * w : 4 * w               // channels at 4x4, as DCGAN
        var g: [LayerBlueprint] = [.convTranspose2d(out: top, kernel: 4, stride: 1, padding: 0, outputPadding: 0, bias: false),
                                   bn, .activation(.relu)]            // (N, top, 4, 4)
        var c = top
        while c > w { c /= 2; g += grow(c) }                              // ... (N, w, size/2, size/2)
        g += grow(channels, last: true)                                   // (N, C, size, size)
        return GANArchitecture(name: "dcgan-upsample\(size)", latentSize: latentSize, latentShape: [latentSize, 1, 1],
                               generator: g, discriminator: pair.discriminator)
    }

    // MARK: JSON

    /// Reads a custom architecture:
    /// `{"latent_size": 64, "latent_shape": [64, 1, 1], "generator": [layer...], "discriminator": [layer...]}`
    /// with layers like `{"type": "conv2d", "out": 32, "kernel": 4, "stride": 2, "padding": 1, "bias": false}`.
    /// Types: linear, conv2d, convtranspose2d, upsample, batchnorm, reshape, flatten, relu,
    /// leakyrelu (slope), tanh, sigmoid, identity, dropout (rate). Input sizes are inferred; a key
    /// left out takes `LayerDefaults`' value, as in model.json (leakyrelu's slope: 0.01).
    public static func parse(_ data: Data, path: String) throws -> GANArchitecture {
        func fail(_ reason: String) -> ArchitectureError { ArchitectureError(path: path, reason: reason) }
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw fail("not valid JSON (\(error))")
        }
        guard case .object(let top) = root else { throw fail("the top level must be an object") }
        func int(_ v: JSONValue?, _ what: String) throws -> Int {
            guard case .number(let d)? = v, d == d.rounded(), abs(d) < 1e9 else { throw fail("\(what) must be an integer") }
            return Int(d)
        }
        let latent = try int(top["latent_size"], "'latent_size'")
        guard latent > 0 else { throw fail("'latent_size' must be positive") }
        var shape: [Int]? = nil
        if case .array(let a)? = top["latent_shape"] { shape = try a.map { try int($0, "'latent_shape'") } }
        func layers(_ key: String) throws -> [LayerBlueprint] {
            guard case .array(let items)? = top[key] else { throw fail("'\(key)' must be a list of layer objects") }
            return try items.enumerated().map { i, item in
                let at = "\(key) layer \(i)"
                guard case .object(let o) = item, case .string(let type)? = o["type"] else {
                    throw fail("\(at) must be an object with a \"type\"")
                }
                func opt(_ k: String, _ def: Int) throws -> Int { o[k] == nil ? def : try int(o[k], "\(at) '\(k)'") }
                func num(_ k: String, _ def: Float) throws -> Float {
                    guard let v = o[k] else { return def }
                    guard case .number(let d) = v else { throw fail("\(at) '\(k)' must be a number") }
                    return Float(d)
                }
                let bias: Bool
                if case .bool(let b)? = o["bias"] { bias = b } else { bias = true }
                switch type {
                case "linear": return .linear(out: try int(o["out"], "\(at) 'out'"), bias: bias)
                case "conv2d":
                    return .conv2d(out: try int(o["out"], "\(at) 'out'"), kernel: try int(o["kernel"], "\(at) 'kernel'"),
                                   stride: try opt("stride", 1), padding: try opt("padding", 0), bias: bias)
                case "convtranspose2d":
                    return .convTranspose2d(out: try int(o["out"], "\(at) 'out'"), kernel: try int(o["kernel"], "\(at) 'kernel'"),
                                            stride: try opt("stride", 1), padding: try opt("padding", 0),
                                            outputPadding: try opt("output_padding", 0), bias: bias)
                case "upsample": return .upsample(scale: try opt("scale", 2))
                case "batchnorm":
                    return .batchNorm(eps: try num("eps", LayerDefaults.batchNormEps),
                                      momentum: try num("momentum", LayerDefaults.batchNormMomentum))
                case "reshape":
                    guard case .array(let a)? = o["shape"] else { throw fail("\(at) needs 'shape', e.g. [128, 7, 7]") }
                    return .reshape(try a.map { try int($0, "\(at) 'shape'") })
                case "flatten": return .flatten
                case "dropout":
                    let rate = try num("rate", LayerDefaults.dropoutRate)
                    guard rate >= 0, rate < 1 else { throw fail("\(at) 'rate' must be in [0, 1)") }
                    return .dropout(rate: rate)
                default:
                    let slope = type == "leakyrelu" ? try num("slope", LayerDefaults.leakyReLUSlope) : nil
                    if let slope, slope <= 0 { throw fail("\(at) 'slope' must be positive") }
                    guard let activation = LayerDefaults.activation(type: type, slope: slope) else {
                        throw fail("\(at): unknown type \"\(type)\"")
                    }
                    return .activation(activation)
                }
            }
        }
        return GANArchitecture(name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
                               latentSize: latent, latentShape: shape,
                               generator: try layers("generator"), discriminator: try layers("discriminator"))
    }
}

public struct ArchitectureError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "architecture \(path): \(reason)" }
}
