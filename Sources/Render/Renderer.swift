import Foundation
import Safety
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
        guard plan.latents.count <= Limits.maximumLatents else {
            throw RenderError.badPlan("\(plan.latents.count) latents; one picture takes at most \(Limits.maximumLatents)")
        }
        guard plan.frames.count <= Limits.maximumFrames else {
            throw RenderError.badPlan("\(plan.frames.count) frames; a GIF takes at most \(Limits.maximumFrames)")
        }
        for (i, frame) in plan.frames.enumerated() {
            if let bad = frame.tiles.compactMap({ $0 }).first(where: { !(0..<plan.latents.count).contains($0) }) {
                throw RenderError.badPlan("frame \(i) refers to latent \(bad) of \(plan.latents.count)")
            }
            guard (1...Limits.maximumHold).contains(frame.hold) else {
                throw RenderError.badPlan("frame \(i) has hold \(frame.hold); use 1 to \(Limits.maximumHold) frame periods")
            }
        }
        guard (1...Limits.maximumColumns).contains(plan.layout.columns), (1...Limits.maximumScale).contains(plan.layout.scale),
              (0...Limits.maximumPadding).contains(plan.layout.padding) else {
            throw RenderError.badPlan("layout needs columns of 1 to \(Limits.maximumColumns), scale of 1 to \(Limits.maximumScale) "
                                      + "and padding of 0 to \(Limits.maximumPadding)")
        }
        try Self.checkSize(plan, width: model.manifest.outputWidth, height: model.manifest.outputHeight)
        if plan.format == .png, plan.frames.count != 1 {
            throw RenderError.badPlan("a PNG holds one frame; the plan has \(plan.frames.count)")
        }
        if plan.format == .gif, plan.gif == nil { throw RenderError.badPlan("a GIF plan needs GIF settings") }
    }

    /// Text of one caption, label or title, in characters.
    public static let maximumTextLength = 256

    /// Refuses a plan whose pictures would exceed `Limits.maximumPixels` (or a side of
    /// `Limits.maximumSide`), estimated from the layout before anything is generated.
    static func checkSize(_ plan: RenderPlan, width: Int, height: Int) throws {
        let layout = plan.layout
        let texts = [layout.title] + plan.frames.map(\.caption) + (layout.tileLabels ?? []).map { Optional($0) }
            + (layout.rowCaptions ?? []).map { Optional($0) } + (layout.columnCaptions ?? []).map { Optional($0) }
        if let long = texts.compactMap({ $0 }).first(where: { $0.count > maximumTextLength }) {
            throw RenderError.badPlan("a caption of \(long.count) characters; captions hold at most \(maximumTextLength)")
        }
        try checkSize(tiles: plan.frames.map(\.tiles.count).max() ?? 0, layout: layout, width: width, height: height)
    }

    /// Refuses a picture of `tiles` tiles of `width` x `height` (before the layout's scale)
    /// that would exceed `Limits.maximumPixels` or `Limits.maximumSide`.
    public static func checkSize(tiles: Int, layout: RenderPlan.Layout, width: Int, height: Int) throws {
        let columns = max(1, min(layout.columns, tiles))
        let rows = (tiles + columns - 1) / columns
        // Generous room for captions: a caption column, a title and a label line a row.
        let caption = 8 * maximumTextLength / 4
        guard let tileWidth = Limits.product([width, layout.scale]), let tileHeight = Limits.product([height, layout.scale]),
              let gridWidth = Limits.product([columns, tileWidth + layout.padding]),
              let gridHeight = Limits.product([rows, tileHeight + layout.padding + 12]),
              let pixels = Limits.product([gridWidth + caption, gridHeight + 40]),
              pixels <= Limits.maximumPixels, gridWidth <= Limits.maximumSide, gridHeight <= Limits.maximumSide else {
            let mega = Double(columns) * Double(width) * Double(layout.scale) * Double(rows) * Double(height) * Double(layout.scale) / 1e6
            throw RenderError.tooLarge("the picture would hold \(rows) x \(columns) tiles of \(width) x \(height) pixels at scale \(layout.scale) "
                + "(about \(Int(mega.rounded())) megapixels); one picture holds at most \(Limits.maximumPixels >> 20) megapixels and "
                + "\(Limits.maximumSide) pixels a side")
        }
    }

    /// Generator outputs for latents `indices` of the plan, as pixels at the layout's scale;
    /// `firstIndex` numbers the images in a message about a non-finite output.
    public func images(_ indices: [Int], of plan: RenderPlan, firstIndex: Int = 0) throws -> [PixelImage] {
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
        let images = try Self.pixels(y, range: model.manifest.outputRange, firstIndex: firstIndex)
        return plan.layout.scale == 1 ? images : images.map { $0.upscaled(by: plan.layout.scale) }
    }

    /// Generator outputs (N, C, H, W) with values in `range` -> N images of 8-bit pixels.
    public static func pixels(_ y: Tensor, range: (Float, Float), firstIndex: Int = 0) throws -> [PixelImage] {
        try checkFinite(y, firstIndex: firstIndex)
        let (n, c, h, w) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
        return try y.data.withUnsafeBufferPointer { buffer in
            try (0..<n).map { i in
                try PixelImage.fromFloats(UnsafeBufferPointer(rebasing: buffer[(i * c * h * w)..<((i + 1) * c * h * w)]),
                                          channels: c, height: h, width: w, range: range)
            }
        }
    }

    /// Throws if a generated image holds NaN or an infinity: weights that are finite but so
    /// large that float32 overflows give such outputs, and a picture of them would be a lie.
    public static func checkFinite(_ y: Tensor, firstIndex: Int = 0) throws {
        guard let bad = y.data.firstIndex(where: { !$0.isFinite }) else { return }
        let per = max(1, y.count / max(y.shape[0], 1))
        throw RenderError.nonFiniteOutput(image: firstIndex + bad / per, value: y.data[bad])
    }

    /// Draws the plan into `url` (PNG or GIF), atomically.
    public func render(_ plan: RenderPlan, to url: URL, progress: ProgressReporter = SilentProgress()) throws {
        try validate(plan)
        switch plan.format {
        case .png:
            let image = try composePNG(plan, progress: progress)
            progress.note("writing \(url.lastPathComponent) (\(image.width) x \(image.height) pixels)", large: image.width * image.height >= 4 << 20)
            try PNG.write(image, to: url)
        case .gif:
            try renderGIF(plan, to: url, progress: progress)
        }
    }

    /// The bytes `render(_:to:)` writes for a PNG plan, without a file: the explorer's server
    /// answers with them, so its PNGs equal the CLI's.
    public func encodePNG(_ plan: RenderPlan) throws -> [UInt8] {
        try validate(plan)
        guard plan.format == .png else { throw RenderError.badPlan("encodePNG draws PNG plans; this one is a GIF") }
        return try PNG.encode(try composePNG(plan, progress: SilentProgress()))
    }

    /// The one frame of a validated PNG plan, generated in batches.
    private func composePNG(_ plan: RenderPlan, progress: ProgressReporter) throws -> PixelImage {
        let frame = plan.frames[0]
        let indices = frame.tiles.compactMap { $0 }
        var generated: [PixelImage] = []
        generated.reserveCapacity(indices.count)
        guard try forEachBatch(indices, of: plan, progress: progress, { _, images in generated += images }) else {
            throw RenderError.interrupted
        }
        return try compose(frame, plan: plan, images: generated)
    }

    /// Generates latents `indices` of the plan in batches of `batchSize`, so that the bar moves
    /// (and can stop the work) on a large job, and hands each batch's images (at the layout's
    /// scale) to `body` with the position in `indices` of its first. False where `progress`
    /// asked to stop (the batches so far handed over).
    public func forEachBatch(_ indices: [Int], of plan: RenderPlan, progress: ProgressReporter,
                             _ body: (Int, [PixelImage]) throws -> Void) throws -> Bool {
        progress.start(total: indices.count, label: "rendering")
        var start = 0
        while start < indices.count {
            let part = Array(indices[start..<min(indices.count, start + batchSize)])
            try body(start, try images(part, of: plan, firstIndex: start))
            start += part.count
            guard progress.advance(by: part.count) else { return false }
        }
        progress.finish()
        return true
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
