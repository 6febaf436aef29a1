import ArgumentParser
import Foundation
import ModelIO

/// `forger import`: a PyTorch checkpoint or safetensors file plus an architecture -> a model directory.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a PyTorch checkpoint (.pt/.pth/.ckpt, zip or legacy) or a safetensors file as a Forger model.",
        discussion: """
        The architecture comes from --arch (a Forger model.json whose layers name the checkpoint's \
        tensors; see docs/import.md) or from --preset: 'dcgan' (the pytorch/examples generator; \
        --nz/--ngf/--nc are read from the tensors when left out) or 'mlp' (an nn.Sequential of \
        Linear layers; hidden sizes from the tensors). Every tensor the layers name is checked \
        (presence, dtype, shape, finite values) before anything is written; on any error the \
        output directory is not created. 'forger import --list FILE' prints every tensor with \
        its dtype and shape.
        """)

    @Argument(help: "The checkpoint: a torch.save file (zip or legacy) or a .safetensors file.")
    var checkpoint: String
    @Option(name: .shortAndLong, help: "The model directory to write.")
    var output: String?
    @Flag(help: "Print every tensor with dtype and shape, and write nothing.")
    var list = false
    @Option(help: "Take the state_dict stored under this key of the checkpoint (e.g. netG, or state.generator).")
    var key: String?
    @Option(help: "Architecture: a Forger model.json whose layers name the tensors.")
    var arch: String?
    @Option(help: "Architecture preset: dcgan or mlp.")
    var preset: Preset?
    @Option(help: "dcgan: latent size (default: from main.0.weight).")
    var nz: Int?
    @Option(help: "dcgan: generator feature maps (default: from main.0.weight).")
    var ngf: Int?
    @Option(help: "dcgan: output channels (default: from main.12.weight).")
    var nc: Int?
    @Option(help: "mlp: activation between layers: relu, leakyrelu:SLOPE, tanh, sigmoid.")
    var activation: String = "relu"
    @Option(help: "mlp: activation after the last layer: tanh, sigmoid or identity.")
    var outputActivation: String = "tanh"
    @Option(help: "mlp: output channels (default: 1 or 3, from the last layer's size).")
    var channels: Int?
    @Option(help: "mlp: output height.")
    var height: Int?
    @Option(help: "mlp: output width.")
    var width: Int?
    @Option(help: "mlp: prefix of the numbered layers, e.g. 'model.' for self.model = nn.Sequential(...).")
    var layerPrefix: String = ""
    @Option(help: "Remove this prefix from tensor names (repeatable), e.g. 'module.' of DataParallel.")
    var stripPrefix: [String] = []
    @Option(help: "Rename tensors starting with PREFIX (PREFIX=NEW, repeatable).")
    var rename: [String] = []
    @Option(parsing: .unconditional, help: "Latent prior: normal or uniform:LOW:HIGH (default: the spec's, or normal).")
    var prior: String?
    @Option(parsing: .unconditional, help: "The range the outputs span, LOW..HIGH: -1..1 (tanh) or 0..1 (sigmoid) (default: the spec's or the preset's).")
    var outputRange: String?
    @Option(help: "Model name (default: the spec's, or the checkpoint's file name).")
    var name: String?
    @Option(help: "Model description.")
    var description: String?
    @OptionGroup var files: OutputOptions

    var force: Bool { files.force }
    var quiet: Bool { files.quiet }

    enum Preset: String, ExpressibleByArgument, CaseIterable { case dcgan, mlp }

    func validate() throws {
        if list {
            guard output == nil else { throw ValidationError("--list writes nothing; leave out -o") }
            return
        }
        guard output != nil else { throw ValidationError("give the model directory to write with -o MODELDIR (or --list to see the tensors)") }
        switch (arch, preset) {
        case (nil, nil): throw ValidationError("give the architecture: --arch model.json, or --preset dcgan|mlp")
        case (.some, .some): throw ValidationError("give --arch or --preset, not both")
        default: break
        }
        if preset != .dcgan, nz != nil || ngf != nil || nc != nil { throw ValidationError("--nz, --ngf and --nc belong to --preset dcgan") }
        if preset != .mlp, channels != nil || height != nil || width != nil || !layerPrefix.isEmpty {
            throw ValidationError("--channels, --height, --width and --layer-prefix belong to --preset mlp")
        }
        for (label, v) in [("--nz", nz), ("--ngf", ngf), ("--nc", nc), ("--channels", channels), ("--height", height), ("--width", width)] {
            if let v, v < 1 { throw ValidationError("\(label) must be at least 1, got \(v)") }
        }
    }

    /// The library request these options describe.
    func request() throws -> ImportRequest {
        let architecture: ArchitectureSource
        if let arch {
            architecture = .spec(URL(fileURLWithPath: arch))
        } else if preset == .dcgan {
            architecture = .dcgan(DCGANPreset(nz: nz, ngf: ngf, nc: nc))
        } else {
            let outputKind = try parseActivation(outputActivation, option: "--output-activation")
            architecture = .mlp(MLPPreset(activation: try parseActivation(activation, option: "--activation"),
                                          outputActivation: outputKind, channels: channels, height: height, width: width,
                                          prefix: layerPrefix))
        }
        return ImportRequest(checkpoint: URL(fileURLWithPath: checkpoint), key: key,
                             renames: stripPrefix.map { TensorRename(prefix: $0, replacement: "") } + (try rename.map(TensorRename.init(argument:))),
                             architecture: architecture, name: name, description: description,
                             prior: try prior.map(LatentDistribution.init(argument:)),
                             outputRange: try outputRange.map(parseOutputRange))
    }

    func run() throws {
        if list {
            let source = try SourceCheckpoint.read(URL(fileURLWithPath: checkpoint), key: key)
            print("\(checkpoint): \(source.format.rawValue), \(source.tensors.count) tensors" + (key.map { " under key '\($0)'" } ?? ""))
            if !source.tensors.isEmpty { print(PyTorchCheckpoint.describe(source.tensors)) }
            return
        }
        let directory = URL(fileURLWithPath: output!)
        let done = try ModelImporter.run(try request(), to: directory, replace: force)
        guard !quiet else { return }
        let m = done.manifest, g = done.generator
        var lines = ["imported \(done.source.url.lastPathComponent) (\(done.source.format.rawValue)) as '\(m.name)' -> \(directory.path)",
                     "  latent  \(m.latentSize) values, \(m.distribution.summary)" + (m.conditioning.map { ", \($0.classes) classes (--class)" } ?? ""),
                     "  output  \(shapeDescription(g.outputShape)), range [\(m.outputRange.0), \(m.outputRange.1)]",
                     "  \(done.tensors.count) tensors, \(grouped(g.parameterCount)) parameters written"]
        if !done.unused.isEmpty {
            lines.append("  not used by any layer: \(done.unused.prefix(8).joined(separator: ", "))" + (done.unused.count > 8 ? ", ... (\(done.unused.count))" : ""))
        }
        lines.append("  try: forger sample \(directory.path) -n 16 -o samples.png")
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    private func shapeDescription(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }
}

/// `forger export`: a model's weights as a PyTorch state_dict in safetensors form.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model's weights as a PyTorch state_dict (.safetensors) that load_state_dict accepts.",
        discussion: """
        Writes every tensor the layers use, under its state_dict name, plus an int64 \
        num_batches_tracked for each batch norm, so that \
        model.load_state_dict(safetensors.torch.load_file(FILE)) works with strict checking. \
        (weights.safetensors in the model directory holds the same tensors without the counters.)
        """)

    @OptionGroup var target: ModelArgument
    @Option(name: .shortAndLong, help: "The .safetensors file to write (PyTorch reads it with safetensors.torch.load_file).")
    var output: String
    @OptionGroup var files: OutputOptions

    func validate() throws {
        let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
        guard ext == "safetensors" else {
            throw ValidationError("-o \(output): export writes safetensors, so the file name must end in .safetensors"
                                  + (["pt", "pth", "onnx", "ckpt", "bin"].contains(ext) ? " (Forger does not write .\(ext) files)" : ""))
        }
        try files.check([(output, "export")])
    }

    func run() throws {
        let directory = try ModelCatalog.resolve(target.model)
        let entries = try ModelExport.run(directory, to: URL(fileURLWithPath: output), replace: files.force)
        if !files.quiet { FileHandle.standardError.write(Data("exported \(entries.count) tensors to \(output)\n".utf8)) }
    }
}
