import ArgumentParser
import Dispatch
import Foundation
import Safety
import Imaging
import Latent
import ModelIO
import Render
import Tensor
import Training

extension ProjectionSettings.Loss: ExpressibleByArgument {}
extension ProjectionSettings.Decay: ExpressibleByArgument {}

/// `forger project`: the latents whose images are closest to given pictures.
struct Project: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Find the latent of each image (projection), for walks and edits of real pictures.",
        discussion: """
        Each PNG (or every .png in a folder) is converted to the model's channels, centre-cropped \
        to its aspect and resized to its size; Adam then fits z through the generator (batch norm \
        with running statistics) from the prior's mean and --restarts random starts, all as one \
        batch, and keeps the best. Writes a latents file (one latent per image, named after the \
        file: use it as projected.json#NAME), FILE.targets.npy (the exact targets fitted, (N, C, H, \
        W) in the model's range) and FILE.json.recipe.json (settings; 'forger render' draws the \
        reconstructions). Ctrl-C stops and keeps the best so far.
        """)

    static let maxImages = 1024
    /// Decoded pixels allowed per input image (checked from the PNG header before decoding).
    static let maxPixels = 100_000_000

    @OptionGroup var target: ModelArgument
    @Argument(help: "PNG files or folders of them.") var images: [String]
    @Option(name: .shortAndLong, help: "The latents file to write (.json).") var output: String
    @Option(help: "Also write the latents as float32 (N, size) .npy.") var npy: String?
    @Option(help: "A comparison grid (.png): target | reconstruction | error, one row per image, PSNR in the caption.")
    var grid: String?
    @Option(help: "An animation (.gif) of the reconstructions over the steps (with its recipe).") var progress: String?
    @Option(help: "Adam steps.") var steps = ProjectionSettings().steps
    @Option(help: "Random starts per image besides the prior's mean.") var restarts = ProjectionSettings().restarts
    @Option(help: "Pixel loss: mse or l1.") var loss: ProjectionSettings.Loss = .mse
    @Option(help: "Peak learning rate.") var lr: Float = ProjectionSettings().learningRate
    @Option(help: "Share of the steps spent warming the learning rate up.") var warmup: Float = ProjectionSettings().warmup
    @Option(help: "Learning-rate decay after the warm-up: cosine or exponential.") var decay: ProjectionSettings.Decay = .cosine
    @Option(help: "Weight of the prior term (normal: (|z|^2/d - 1)^2; uniform: 0 turns off clamping to its bounds).")
    var priorWeight: Float = ProjectionSettings().priorWeight
    @Option(help: "Weight of a feature loss on the model's discriminator (needs discriminator.safetensors from forger train; 0: off).")
    var featureWeight: Float = 0
    @Option(help: "The discriminator layer whose output is compared (default: its last activation before the logit).")
    var featureLayer: Int?
    @Option(help: "Seed of the random starts.") var seed: UInt64 = 0
    @Option(help: "Latent rows pushed through the generator at once (bounds memory).") var batchSize = ProjectionSettings().batchSize
    @Option(help: "Enlarge tiles of --grid and --progress by this integer factor (default: until 64 px).") var scale: Int?
    @Option(help: "--progress frames per second.") var fps: Double = 12
    @Flag(help: "Overwrite existing output files.") var force = false
    @Flag(name: .shortAndLong, help: "Print nothing but errors.") var quiet = false

    func validate() throws {
        if let scale, !(1...64).contains(scale) { throw ValidationError("--scale must be 1 to 64") }
        try RenderTarget.checkFramesPerSecond(fps)
        try Limits.check(batchSize, 1...Limits.maximumBatchSize, "--batch-size")
        guard !images.isEmpty else { throw ValidationError("give at least one PNG file or folder") }
    }

    var settings: ProjectionSettings {
        var s = ProjectionSettings()
        s.steps = steps; s.restarts = restarts; s.loss = loss; s.learningRate = lr; s.warmup = warmup
        s.decay = decay; s.priorWeight = priorWeight; s.featureWeight = featureWeight; s.seed = seed; s.batchSize = batchSize
        s.snapshotEvery = progress == nil ? 0 : max(1, steps / 40)
        return s
    }

    func run() throws {
        var s = settings
        do { try s.validate() } catch let e as ProjectionError { throw UserError(e.description) }
        let outputs = try plannedOutputs()
        let session = try Session(target, try LatentOptions.parse([]))
        let model = session.model, m = model.manifest
        let differentiable: DifferentiableGenerator
        do { differentiable = try DifferentiableGenerator(model.inferenceGenerator, name: m.name) } catch let e as ProjectionError {
            throw UserError("cannot project with \(target.model): \(e)")
        }
        let features = try featureNetwork(model, settings: s)
        let files = try imageFiles()
        if progress != nil, files.count > 64 { throw UserError("--progress shows at most 64 images (\(files.count) given); project fewer or drop --progress") }
        if grid != nil, files.count > 256 { throw UserError("--grid shows at most 256 images (\(files.count) given); project fewer or drop --grid") }
        let rows = files.count * (s.restarts + 1)
        guard rows <= 65_536 else {
            throw UserError("\(files.count) images x \(s.restarts + 1) starts is \(rows) latents; use fewer images or --restarts")
        }
        let (names, fitted) = try readTargets(files, model: m)
        let targets = Projection.targets(fitted, manifest: m)
        s.batchSize = min(s.batchSize, rows)
        let projection: Projection
        do { projection = try Projection(generator: differentiable, prior: m.distribution, settings: s, features: features) } catch let e as ProjectionError {
            throw UserError("\(e)")
        }
        if !quiet {
            log("projecting \(files.count) image\(files.count == 1 ? "" : "s") into \(m.name) (\(m.outputChannels)x\(m.outputHeight)x\(m.outputWidth), z \(m.latentSize)): \(s.steps) steps, \(s.restarts + 1) starts each, \(s.loss.rawValue) loss, lr \(s.learningRate)")
        }
        let reporter = ProjectionProgress(quiet: quiet)
        let result = try withInterruptFlag(reporter) { try projection.run(targets: targets, reporter: reporter) }
        reporter.finish()
        try write(result, names: names, files: files, targets: targets, fitted: fitted, session: session, outputs: outputs)
    }

    /// The discriminator cut after its feature layer, when --feature-weight asks for it.
    func featureNetwork(_ model: LoadedModel, settings s: ProjectionSettings) throws -> Network? {
        guard s.featureWeight > 0 else {
            if featureLayer != nil { throw UserError("--feature-layer needs --feature-weight above 0") }
            return nil
        }
        do {
            guard let full = try SavedDiscriminator.load(model) else {
                throw UserError("--feature-weight: \(target.model) has no discriminator (no '\(SavedDiscriminator.key)' section in model.json); models trained by this Forger's 'forger train' have one, or drop --feature-weight")
            }
            guard let layer = featureLayer ?? SavedDiscriminator.defaultFeatureLayer(full.blueprints) else {
                throw UserError("--feature-weight: the discriminator has no activation to take features from; give --feature-layer")
            }
            return try SavedDiscriminator.load(model, throughLayer: layer)
        } catch let e as ArchitectureError {
            throw UserError("\(e)")
        } catch let e as ModelError {
            throw UserError("\(e)")
        }
    }

    // MARK: Inputs

    /// The PNG files named or held (directly) by the named folders, in order.
    func imageFiles() throws -> [URL] {
        var files: [URL] = []
        let fm = FileManager.default
        for item in images {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: item, isDirectory: &isDir) else { throw UserError("\(item): no such file or folder") }
            if isDir.boolValue {
                let names = (try? fm.contentsOfDirectory(atPath: item)) ?? []
                let pngs = names.filter { !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".png") }.sorted()
                guard !pngs.isEmpty else { throw UserError("folder \(item) holds no .png files; give PNG files or a folder of them") }
                files += pngs.map { URL(fileURLWithPath: item).appendingPathComponent($0) }
            } else {
                files.append(URL(fileURLWithPath: item))
            }
            guard files.count <= Self.maxImages else {
                throw UserError("more than \(Self.maxImages) images; project them in several runs")
            }
        }
        return files
    }

    /// Each image fitted to the model's size and channels, named after its file.
    func readTargets(_ files: [URL], model m: ModelManifest) throws -> (names: [String], images: [PixelImage]) {
        var names: [String] = [], images: [PixelImage] = [], seen: [String: URL] = [:]
        var converted: [Int: [String]] = [:]         // source channels -> file names
        for url in files {
            let name = url.deletingPathExtension().lastPathComponent
            if let other = seen[name] {
                throw UserError("\(other.path) and \(url.path) would both be named '\(name)' in the latents file; rename one")
            }
            seen[name] = url
            let fit: FittedImage
            do {
                fit = try PNG.readFitted(url, width: m.outputWidth, height: m.outputHeight, maxPixels: Self.maxPixels)
            } catch let e as ImagingError {
                throw UserError("\(e)")
            }
            if fit.sourceChannels != m.outputChannels {
                converted[fit.sourceChannels, default: []].append(url.lastPathComponent)
            }
            names.append(name)
            images.append(fit.image.converted(toChannels: m.outputChannels))
        }
        if !quiet {
            for (channels, list) in converted.sorted(by: { $0.key < $1.key }) {
                let what = channels == 1 ? "grey images converted to colour (the grey level in R, G and B)"
                    : channels == 4 ? "images with transparency composited over white" : "colour images converted to grey (BT.601 luma)"
                let shown = list.prefix(3).joined(separator: ", ") + (list.count > 3 ? ", ..." : "")
                log("note: \(list.count) \(what): \(shown)")
            }
        }
        return (names, images)
    }

    // MARK: Outputs

    struct Outputs {
        var latents: URL, targets: URL, recipe: URL
        var npy: URL?, grid: URL?, progress: URL?
        var all: [URL] { [latents, targets, recipe] + [npy, grid, progress].compactMap { $0 } + (progress.map { [Recipe.url(besides: $0)] } ?? []) }
    }

    /// Every file this run will write, checked before any work: extensions, folders, no
    /// clashes, and no existing file unless --force.
    func plannedOutputs() throws -> Outputs {
        func checked(_ path: String, _ option: String, _ ext: String) throws -> URL {
            let url = URL(fileURLWithPath: path)
            guard url.pathExtension.lowercased() == ext else { throw UserError("\(option) \(path): the file name must end in .\(ext)") }
            return url
        }
        let latents = try checked(output, "-o", "json")
        let stem = latents.deletingPathExtension()
        let o = Outputs(latents: latents, targets: stem.appendingPathExtension("targets.npy"), recipe: Recipe.url(besides: latents),
                        npy: try npy.map { try checked($0, "--npy", "npy") }, grid: try grid.map { try checked($0, "--grid", "png") },
                        progress: try progress.map { try checked($0, "--progress", "gif") })
        var seen = Set<String>()
        let fm = FileManager.default
        for url in o.all {
            guard seen.insert(url.standardizedFileURL.path).inserted else {
                throw UserError("\(url.path) would be written twice; give -o, --npy, --grid and --progress different names")
            }
            var isDir: ObjCBool = false
            let folder = url.deletingLastPathComponent().path
            guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
                throw UserError("\(url.path): folder \(folder) does not exist; create it first")
            }
            if fm.fileExists(atPath: url.path), !force {
                throw UserError("\(url.path) exists; give --force to overwrite it or choose another name")
            }
        }
        return o
    }

    func write(_ result: ProjectionResult, names: [String], files: [URL], targets: Tensor, fitted: [PixelImage],
               session: Session, outputs o: Outputs) throws {
        let model = session.model, m = model.manifest
        let tileScale = scale ?? RenderPlan.autoScale(width: m.outputWidth, height: m.outputHeight)
        let plan = RenderPlan(format: .png, latents: result.latents, frames: [.init(tiles: Array(0..<names.count).map { $0 })],
                              layout: .init(columns: min(8, names.count), scale: tileScale, tileLabels: names))
        var unscaled = plan
        unscaled.layout.scale = 1          // the metric compares images at the model's size
        let reconstructions = try Renderer(model: model, batchSize: batchSize).images(Array(0..<names.count), of: unscaled)
        let psnr = zip(fitted, reconstructions).map { ImageMetrics.psnr($0, $1) }

        // Everything but the animation is made in memory first, then written file by file;
        // a failure removes what this run wrote.
        var pending: [(URL, Data)] = []
        pending.append((o.targets, Data(NPY.encode(targets))))
        if let url = o.npy { pending.append((url, Data(NPY.encode(Tensor(latentRows: result.latents, size: m.latentSize))))) }
        if let url = o.grid {
            pending.append((url, Data(try PNG.encode(comparisonGrid(fitted, reconstructions, names: names, psnr: psnr, scale: tileScale)))))
        }
        var options = settingsRecord()
        options["images"] = files.map(\.path).joined(separator: ",")
        options["names"] = names.joined(separator: ",")
        options["targets"] = o.targets.lastPathComponent
        options["output"] = o.latents.deletingPathExtension().appendingPathExtension("reconstructions.png").path
        options["psnr"] = psnr.map { String(format: "%.2f", $0) }.joined(separator: ",")
        options["steps_done"] = String(result.evaluations - 1)
        if result.interrupted { options["interrupted"] = "true" }
        let recipe = Recipe(model: .init(name: m.name, weightsHash: model.weightsHash, location: model.directory.path),
                            command: ["forger", "project"] + CommandLineRecord.arguments, options: options, plan: plan)
        pending.append((o.recipe, try recipe.encoded()))
        let entries = zip(names, result.latents).map { NamedLatent(name: $0, vector: $1) }
        pending.append((o.latents, try LatentFile(model: m.name, size: m.latentSize, named: entries).encoded()))

        var written: [URL] = []
        do {
            for (url, data) in pending { try AtomicFile.write(data, to: url); written.append(url) }
            if let url = o.progress {
                written += [url, Recipe.url(besides: url)]
                try session.finish(progressPlan(result, names: names, scale: tileScale),
                                   RenderTarget(output: url.path, batchSize: batchSize, quiet: quiet, noLabels: false, framesPerSecond: fps),
                                   settings: settingsRecord())
            }
        } catch {
            for url in written { try? FileManager.default.removeItem(at: url) }
            throw error
        }
        if !quiet {
            for (j, name) in names.enumerated() {
                log(String(format: "%@: PSNR %.2f dB, %@ %.5f, prior %.5f, start %d", name, psnr[j], loss.rawValue,
                           result.reconstruction[j], result.prior[j], result.bestStart[j]))
            }
            let mean = psnr.reduce(0, +) / Double(psnr.count)
            log(String(format: "%@ after %d steps in %.1f s (%.1f steps/s); mean PSNR %.2f dB; wrote %@, %@, %@",
                       result.interrupted ? "interrupted" : "finished", result.evaluations - 1, result.seconds,
                       Double(result.evaluations) / max(result.seconds, 1e-9), mean,
                       o.latents.path, o.targets.lastPathComponent, o.recipe.lastPathComponent)
                + [o.npy, o.grid].compactMap { $0.map { ", " + $0.lastPathComponent } }.joined())
        }
    }

    /// Target | projection | error (mean absolute difference over channels, x4), one row per image.
    func comparisonGrid(_ targets: [PixelImage], _ reconstructions: [PixelImage], names: [String], psnr: [Double], scale: Int) throws -> PixelImage {
        var tiles: [PixelImage?] = []
        for (t, r) in zip(targets, reconstructions) {
            var error = PixelImage(width: t.width, height: t.height, channels: 1)
            for y in 0..<t.height {
                for x in 0..<t.width {
                    var sum = 0
                    for c in 0..<t.channels { sum += abs(Int(t[x, y, c]) - Int(r[x, y, c])) }
                    error.pixels[error.offset(x: x, y: y)] = UInt8(min(255, 4 * sum / t.channels))
                }
            }
            tiles += [t, r, error].map { $0.upscaled(by: scale) }
        }
        var g = Grid(rows: targets.count, columns: 3, tiles: tiles)
        g.padding = 2
        g.columnCaptions = ["target", "projected", "error x4"]
        g.rowCaptions = zip(names, psnr).map { "\($0) " + String(format: "%.1f dB", $1) }
        return try g.render()
    }

    /// The best reconstruction of every image at each snapshot, the last frame held.
    func progressPlan(_ result: ProjectionResult, names: [String], scale: Int) -> RenderPlan {
        let n = names.count
        let frames = result.snapshotSteps.enumerated().map { f, step in
            RenderPlan.Frame(tiles: (0..<n).map { f * n + $0 }, hold: f == result.snapshotSteps.count - 1 ? 24 : 1, caption: "step \(step)")
        }
        return RenderPlan(format: .gif, latents: result.snapshots.flatMap { $0 }, frames: frames,
                          layout: .init(columns: min(8, n), scale: scale, tileLabels: names),
                          gif: .init(fps: fps, loopCount: 0, dither: true))
    }

    func settingsRecord() -> [String: String] {
        ["steps": String(steps), "restarts": String(restarts), "loss": loss.rawValue, "lr": String(lr), "warmup": String(warmup),
         "decay": decay.rawValue, "prior_weight": String(priorWeight), "feature_weight": String(featureWeight),
         "feature_layer": featureLayer.map(String.init) ?? "default", "seed": String(seed)]
    }

}

/// The current step and loss on stderr (in place on a terminal, every few seconds otherwise);
/// `stop` is set by Ctrl-C.
final class ProjectionProgress: ProjectionReporter {
    private let quiet: Bool
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast, drew = false
    private let lock = NSLock()
    private var stop = false

    init(quiet: Bool) { self.quiet = quiet }

    func requestStop() { lock.lock(); stop = true; lock.unlock() }
    var shouldStop: Bool { lock.lock(); defer { lock.unlock() }; return stop }

    func stepFinished(step: Int, of total: Int, meanBest: Float, elapsed: Double) {
        guard !quiet else { return }
        let now = Date()
        guard step == total || now.timeIntervalSince(lastDraw) > (isTerminal ? 0.2 : 5) else { return }
        lastDraw = now; drew = true
        let line = String(format: "step %d/%d  loss %.5f  %.1f steps/s", step, total, meanBest, Double(step + 1) / max(elapsed, 1e-9))
        FileHandle.standardError.write(Data((isTerminal ? "\r" + line : line + "\n").utf8))
    }

    func finish() {
        if drew && isTerminal && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Runs `body` with Ctrl-C turned into `reporter.requestStop()`, so the best so far is kept
/// (a second Ctrl-C ends the process, removing unfinished files).
func withInterruptFlag<T>(_ reporter: ProjectionProgress, _ body: () throws -> T) rethrows -> T {
    try TemporaryFiles.whileInterruptStops({ reporter.requestStop() }, body)
}
