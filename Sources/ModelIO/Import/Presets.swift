import Foundation
import Tensor

/// The pytorch/examples DCGAN generator (`netG`), 64x64:
///   main.0  ConvT(nz, ngf*8, 4, 1, 0)  main.1 BN  ReLU   -> (ngf*8, 4, 4)
///   main.3  ConvT(ngf*8, ngf*4, 4, 2, 1) main.4 BN ReLU -> (ngf*4, 8, 8)
///   main.6  ConvT(ngf*4, ngf*2, 4, 2, 1) main.7 BN ReLU -> (ngf*2, 16, 16)
///   main.9  ConvT(ngf*2, ngf, 4, 2, 1)  main.10 BN ReLU -> (ngf, 32, 32)
///   main.12 ConvT(ngf, nc, 4, 2, 1)  Tanh              -> (nc, 64, 64)
/// All convolutions without bias; batch norm eps 1e-5. nz, ngf and nc are read from
/// `main.0.weight` (nz, ngf*8, 4, 4) and `main.12.weight` (ngf, nc, 4, 4) when not given.
public struct DCGANPreset: Equatable, Sendable {
    public var nz: Int?
    public var ngf: Int?
    public var nc: Int?

    public init(nz: Int? = nil, ngf: Int? = nil, nc: Int? = nil) { self.nz = nz; self.ngf = ngf; self.nc = nc }

    public func manifest(for tensors: [String: TensorRecord], file: String) throws -> ModelManifest {
        let first = try presetTensor("main.0.weight", rank: 4, in: tensors, file: file, preset: "dcgan")
        let last = try presetTensor("main.12.weight", rank: 4, in: tensors, file: file, preset: "dcgan")
        guard first.shape[1] % 8 == 0 else {
            throw ImportError(file, at: "tensor 'main.0.weight'", "shape \(shapeText(first.shape)) is not (nz, ngf*8, 4, 4): \(first.shape[1]) is not a multiple of 8",
                              hint: "This is not the pytorch/examples DCGAN layout; write a model.json spec and pass it with --arch.")
        }
        let nz = self.nz ?? first.shape[0], ngf = self.ngf ?? first.shape[1] / 8, nc = self.nc ?? last.shape[1]
        // Check the given sizes against the tensors here, so the message names the option too.
        for (name, record, expected, option) in [("main.0.weight", first, [nz, ngf * 8, 4, 4], "--nz/--ngf"),
                                                 ("main.12.weight", last, [ngf, nc, 4, 4], "--ngf/--nc")]
        where record.shape != expected {
            throw ImportError(file, at: "tensor '\(name)'", "expected shape \(shapeText(expected)) for --preset dcgan with nz \(nz), ngf \(ngf), nc \(nc), but the checkpoint has \(shapeText(record.shape))",
                              hint: "Leave out \(option) to take the sizes from the tensors, or correct them.")
        }
        var layers: [LayerSpec] = []
        var cin = nz, index = 0
        for (i, cout) in [ngf * 8, ngf * 4, ngf * 2, ngf, nc].enumerated() {
            let g = ConvGeometry(inChannels: cin, outChannels: cout, kernel: 4, stride: i == 0 ? 1 : 2, padding: i == 0 ? 0 : 1)
            layers.append(.convTranspose2d(g, weight: "main.\(index).weight", bias: nil))
            if i == 4 { layers.append(.activation(.tanh)); break }
            let bn = "main.\(index + 1)"
            layers.append(.batchNorm(features: cout, eps: 1e-5, weight: bn + ".weight", bias: bn + ".bias",
                                     runningMean: bn + ".running_mean", runningVar: bn + ".running_var"))
            layers.append(.activation(.relu))
            cin = cout
            index += 3
        }
        return ModelManifest(name: "dcgan", description: "pytorch/examples DCGAN generator (nz \(nz), ngf \(ngf), nc \(nc))",
                             latentSize: nz, latentShape: [nz, 1, 1], distribution: .normal,
                             outputChannels: nc, outputHeight: 64, outputWidth: 64, outputRange: (-1, 1), layers: layers)
    }
}

/// A fully connected generator saved from an `nn.Sequential`: Linear layers at numbered
/// positions (`0.weight`, `2.weight`, ...; optionally BatchNorm1d ones with `N.running_mean`)
/// with an activation between them and one after the last, reshaped to (C, H, W).
/// Hidden sizes come from the weights; the output's image shape from the options or, when
/// they are left out, from the last layer's width (784 -> 1x28x28, 3072 -> 3x32x32).
public struct MLPPreset: Equatable, Sendable {
    public var activation: ActivationKind
    public var outputActivation: ActivationKind
    public var channels: Int?
    public var height: Int?
    public var width: Int?
    /// Names are `<prefix>N.weight`; "" for a bare nn.Sequential, "model." for `self.model`.
    public var prefix: String
    public var batchNormEps: Float

    public init(activation: ActivationKind = .relu, outputActivation: ActivationKind = .tanh, channels: Int? = nil,
                height: Int? = nil, width: Int? = nil, prefix: String = "", batchNormEps: Float = 1e-5) {
        self.activation = activation; self.outputActivation = outputActivation; self.channels = channels
        self.height = height; self.width = width; self.prefix = prefix; self.batchNormEps = batchNormEps
    }

    public func manifest(for tensors: [String: TensorRecord], file: String) throws -> ModelManifest {
        // Numbered positions of the Sequential: linears (2-D weight) and batch norms (running_mean).
        var linears: [(index: Int, record: TensorRecord)] = [], norms: [Int: Int] = [:]
        for (name, record) in tensors where name.hasPrefix(prefix) {
            let parts = name.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let i = Int(parts[0]) else { continue }
            if parts[1] == "weight", record.shape.count == 2 { linears.append((i, record)) }
            if parts[1] == "running_mean", record.shape.count == 1 { norms[i] = record.shape[0] }
        }
        linears.sort { $0.index < $1.index }
        guard let first = linears.first, let last = linears.last else {
            throw ImportError(file, "no tensor named '\(prefix)N.weight' with two dimensions, so there is no Linear layer of an nn.Sequential to build on",
                              hint: "Run 'forger import --list' to see the names; use --rename/--strip-prefix to bring them to 0.weight, 2.weight, ... or write a model.json spec.")
        }
        for (a, b) in zip(linears, linears.dropFirst()) where a.record.shape[0] != b.record.shape[1] {
            throw ImportError(file, at: "tensor '\(prefix)\(b.index).weight'",
                              "expected shape (\(b.record.shape[0]), \(a.record.shape[0])) to follow '\(prefix)\(a.index).weight' \(shapeText(a.record.shape)), but it is \(shapeText(b.record.shape))",
                              hint: "The Linear layers do not chain; this is not a plain MLP: write a model.json spec.")
        }
        let out = last.record.shape[0]
        let (c, h, w) = try imageShape(outputs: out, tensor: "\(prefix)\(last.index).weight", file: file)
        var layers: [LayerSpec] = []
        for (k, linear) in linears.enumerated() {
            let name = "\(prefix)\(linear.index)"
            let bias = tensors[name + ".bias"] == nil ? nil : name + ".bias"
            layers.append(.linear(inFeatures: linear.record.shape[1], outFeatures: linear.record.shape[0], weight: name + ".weight", bias: bias))
            let end = k + 1 < linears.count ? linears[k + 1].index : Int.max
            // A batch norm between this linear and the next one comes before the activation.
            if let (i, f) = norms.filter({ $0.key > linear.index && $0.key < end }).min(by: { $0.key < $1.key }) {
                let bn = "\(prefix)\(i)"
                layers.append(.batchNorm(features: f, eps: batchNormEps, weight: tensors[bn + ".weight"] == nil ? nil : bn + ".weight",
                                         bias: tensors[bn + ".bias"] == nil ? nil : bn + ".bias",
                                         runningMean: bn + ".running_mean", runningVar: bn + ".running_var"))
            }
            layers.append(.activation(k + 1 < linears.count ? activation : outputActivation))
        }
        layers.append(.reshape([c, h, w]))
        let range: (Float, Float) = outputActivation == .sigmoid ? (0, 1) : (-1, 1)
        return ModelManifest(name: "mlp", description: "MLP generator " + ([first.record.shape[1]] + linears.map { $0.record.shape[0] }).map(String.init).joined(separator: "-"),
                             latentSize: first.record.shape[1], distribution: .normal,
                             outputChannels: c, outputHeight: h, outputWidth: w, outputRange: range, layers: layers)
    }

    /// (C, H, W) for `outputs` values: from the options where given, else a square image
    /// with 1 or 3 channels.
    func imageShape(outputs: Int, tensor: String, file: String) throws -> (Int, Int, Int) {
        func square(_ n: Int) -> Int? {
            let s = Int(Double(n).squareRoot().rounded())
            return s * s == n ? s : nil
        }
        let c: Int, h: Int, w: Int
        switch (channels, height, width) {
        case (nil, nil, nil):
            if let s = square(outputs) { (c, h, w) = (1, s, s) }
            else if outputs % 3 == 0, let s = square(outputs / 3) { (c, h, w) = (3, s, s) }
            else {
                throw ImportError(file, at: "tensor '\(tensor)'", "the last layer gives \(outputs) values, which is no square image of 1 or 3 channels",
                                  hint: "Give the image shape with --channels, --height and --width.")
            }
        default:
            let cc = channels ?? 1
            if let hh = height, let ww = width { (c, h, w) = (cc, hh, ww) }
            else if let hh = height ?? width, outputs % (cc * hh) == 0 { (c, h, w) = (cc, hh, outputs / (cc * hh)) }
            else if outputs % cc == 0, let s = square(outputs / cc) { (c, h, w) = (cc, s, s) }
            else {
                throw ImportError(file, at: "tensor '\(tensor)'", "the last layer gives \(outputs) values, which --channels/--height/--width do not describe",
                                  hint: "Give all three so that channels x height x width = \(outputs).")
            }
        }
        guard c > 0, h > 0, w > 0, c * h * w == outputs else {
            throw ImportError(file, at: "tensor '\(tensor)'", "the last layer gives \(outputs) values, but --channels \(c) --height \(h) --width \(w) make \(c * h * w)",
                              hint: "Choose sizes whose product is \(outputs).")
        }
        return (c, h, w)
    }
}

/// A tensor a preset needs, present and of the right rank, or an error that says which
/// names the file has instead.
func presetTensor(_ name: String, rank: Int, in tensors: [String: TensorRecord], file: String, preset: String) throws -> TensorRecord {
    guard let record = tensors[name] else {
        let suffixed = tensors.keys.filter { $0.hasSuffix("." + name) }.sorted()
        let hint = suffixed.first.map { found in
            "The file has '\(found)': add --strip-prefix \(found.dropLast(name.count)) (a DataParallel or wrapped model)."
        } ?? "Run 'forger import --list' to see its names; if this is another layout, write a model.json spec and pass --arch."
        throw ImportError(file, at: "tensor '\(name)'", "--preset \(preset) needs this tensor, but the checkpoint has no tensor of that name", hint: hint)
    }
    guard record.shape.count == rank else {
        throw ImportError(file, at: "tensor '\(name)'", "--preset \(preset) expects a \(rank)-D tensor here, but its shape is \(shapeText(record.shape))",
                          hint: "This is not the \(preset) layout; write a model.json spec and pass --arch.")
    }
    return record
}
