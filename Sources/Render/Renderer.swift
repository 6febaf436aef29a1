import Foundation
import Imaging
import ModelIO
import NN
import Tensor

/// Draws render plans with one model: generates the tiles in batches, lays them out, and
/// writes PNG or a streamed GIF, atomically.
public struct Renderer {
    public let model: LoadedModel
    public let generator: Generator
    /// Latents generated at once; bounds memory for long animations.
    public var batchSize: Int

    public init(model: LoadedModel, batchSize: Int = 64) {
        self.model = model
        self.generator = model.inferenceGenerator
        self.batchSize = batchSize
    }

    /// Checks a plan against the model before any work.
    public func validate(_ plan: RenderPlan) throws {
        let size = model.manifest.latentSize
        if let bad = plan.latents.firstIndex(where: { $0.count != size }) {
            throw RenderError.badPlan("latent \(bad) has \(plan.latents[bad].count) values; model '\(model.manifest.name)' takes \(size)")
        }
        if let bad = plan.latents.firstIndex(where: { !$0.allSatisfy(\.isFinite) }) {
            throw RenderError.badPlan("latent \(bad) holds NaN or infinite values")
        }
        if let labels = plan.labels {
            guard let c = model.manifest.conditioning else { throw RenderError.badPlan("the plan has class labels but model '\(model.manifest.name)' is not conditional") }
            guard labels.count == plan.latents.count else { throw RenderError.badPlan("\(labels.count) labels for \(plan.latents.count) latents") }
            if let bad = labels.first(where: { !(0..<c.classes).contains($0) }) {
                throw RenderError.badPlan("class \(bad) is outside 0...\(c.classes - 1)")
            }
        }
        if let weights = plan.classWeights {
            guard let c = model.manifest.conditioning else { throw RenderError.badPlan("the plan has class weights but model '\(model.manifest.name)' is not conditional") }
            guard weights.count == plan.latents.count, weights.allSatisfy({ $0.count == c.classes && $0.allSatisfy(\.isFinite) }) else {
                throw RenderError.badPlan("class weights must give \(c.classes) finite numbers for each of the \(plan.latents.count) latents")
            }
        }
        guard !plan.frames.isEmpty else { throw RenderError.badPlan("nothing to draw: no frames") }
        for (i, frame) in plan.frames.enumerated() {
            if let bad = frame.tiles.compactMap({ $0 }).first(where: { !(0..<plan.latents.count).contains($0) }) {
                throw RenderError.badPlan("frame \(i) refers to latent \(bad) of \(plan.latents.count)")
            }
            guard frame.hold >= 1 else { throw RenderError.badPlan("frame \(i) has hold \(frame.hold); use at least 1") }
        }
        guard plan.layout.columns >= 1, plan.layout.scale >= 1, plan.layout.padding >= 0 else {
            throw RenderError.badPlan("layout needs columns and scale of at least 1 and padding of at least 0")
        }
        if plan.format == .png, plan.frames.count != 1 {
            throw RenderError.badPlan("a PNG holds one frame; the plan has \(plan.frames.count)")
        }
        if plan.format == .gif, plan.gif == nil { throw RenderError.badPlan("a GIF plan needs GIF settings") }
    }

    /// Generator outputs for latents `indices` of the plan, as pixels at the layout's scale.
    public func images(_ indices: [Int], of plan: RenderPlan) throws -> [PixelImage] {
        guard !indices.isEmpty else { return [] }
        let size = model.manifest.latentSize
        var data = [Float](); data.reserveCapacity(indices.count * size)
        for i in indices { data += plan.latents[i] }
        let z = Tensor(shape: [indices.count, size], data: data)
        let y: Tensor   // (N, C, H, W)
        if let weights = plan.classWeights {
            let w = Tensor(shape: [indices.count, weights[0].count], data: indices.flatMap { weights[$0] })
            y = generator.forward(z, classWeights: w, batchSize: batchSize)
        } else {
            y = generator.forward(z, labels: plan.labels.map { l in indices.map { l[$0] } }, batchSize: batchSize)
        }
        let images = try Self.pixels(y, range: model.manifest.outputRange)
        return plan.layout.scale == 1 ? images : images.map { $0.upscaled(by: plan.layout.scale) }
    }

    /// Generator outputs (N, C, H, W) with values in `range` -> N images of 8-bit pixels.
    public static func pixels(_ y: Tensor, range: (Float, Float)) throws -> [PixelImage] {
        let (n, c, h, w) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
        return try y.data.withUnsafeBufferPointer { buffer in
            try (0..<n).map { i in
                try PixelImage.fromFloats(UnsafeBufferPointer(rebasing: buffer[(i * c * h * w)..<((i + 1) * c * h * w)]),
                                          channels: c, height: h, width: w, range: range)
            }
        }
    }

    /// Draws the plan into `url` (PNG or GIF), atomically.
    public func render(_ plan: RenderPlan, to url: URL, progress: ProgressReporter = SilentProgress()) throws {
        try validate(plan)
        switch plan.format {
        case .png:
            let frame = plan.frames[0]
            progress.start(total: frame.tiles.count, label: "rendering")
            let image = try compose(frame, plan: plan, images: try images(frame.tiles.compactMap { $0 }, of: plan))
            progress.advance(by: frame.tiles.count)
            try PNG.write(image, to: url)
            progress.finish()
        case .gif:
            try renderGIF(plan, to: url, progress: progress)
        }
    }

    private func renderGIF(_ plan: RenderPlan, to url: URL, progress: ProgressReporter) throws {
        let settings = plan.gif!
        let grey = model.manifest.outputChannels == 1
        var palette: GIFPaletteMode = .grey
        if !grey {
            // Two passes: a global palette from up to 16 evenly spaced frames, then the stream.
            let sampleCount = min(16, plan.frames.count)
            let sample = (0..<sampleCount).map { plan.frames[$0 * plan.frames.count / sampleCount] }
            palette = .global(GIFWriter.makePalette(sampleFrames: try composeFrames(sample, plan: plan)))
        }
        let first = try composeFrames([plan.frames[0]], plan: plan)[0]
        let writer = try GIFWriter(url: url, width: first.width, height: first.height,
                                   options: GIFOptions(framesPerSecond: settings.fps, loopCount: settings.loopCount,
                                                       palette: palette, dither: settings.dither ? .ordered : .none))
        progress.start(total: plan.frames.count, label: "rendering")
        // Frames in chunks of at most 16 generated images (or one frame): memory stays bounded
        // and does not grow with the length of the animation.
        let tilesPerFrame = max(1, plan.frames[0].tiles.count)
        let chunk = max(1, min(batchSize, 16) / tilesPerFrame)
        var start = 0
        while start < plan.frames.count {
            let frames = Array(plan.frames[start..<min(plan.frames.count, start + chunk)])
            for (frame, image) in zip(frames, try composeFrames(frames, plan: plan)) {
                try writer.add(image, holdFrames: frame.hold)
            }
            start += frames.count
            guard progress.advance(by: frames.count) else { break }
        }
        try writer.finish()
        progress.finish()
    }

    /// Composes frames, generating each distinct latent they use once.
    private func composeFrames(_ frames: [RenderPlan.Frame], plan: RenderPlan) throws -> [PixelImage] {
        var order: [Int] = [], position: [Int: Int] = [:]
        for frame in frames {
            for i in frame.tiles.compactMap({ $0 }) where position[i] == nil {
                position[i] = order.count
                order.append(i)
            }
        }
        let generated = try images(order, of: plan)
        return try frames.map { frame in
            try compose(frame, plan: plan, images: frame.tiles.compactMap { $0 }.map { generated[position[$0]!] })
        }
    }

    /// Lays out one frame's images (in tile order, empty cells skipped) with the plan's captions.
    func compose(_ frame: RenderPlan.Frame, plan: RenderPlan, images: [PixelImage]) throws -> PixelImage {
        var iterator = images.makeIterator()
        let cells: [PixelImage?] = frame.tiles.map { $0 == nil ? nil : iterator.next() }
        let layout = plan.layout
        return try GridRenderer.render(cells: cells, columns: layout.columns, padding: layout.padding,
                                       tileLabels: layout.tileLabels, rowCaptions: layout.rowCaptions,
                                       columnCaptions: layout.columnCaptions,
                                       title: [layout.title, frame.caption].compactMap { $0 }.joined(separator: "  "))
    }
}
