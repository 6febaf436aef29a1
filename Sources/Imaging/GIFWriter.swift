import CGIF
import Foundation
import Safety
#if canImport(Glibc)
import Glibc
#endif

/// Where a GIF's colours come from.
public enum GIFPaletteMode: Equatable, Sendable {
    /// Grey first frame -> `.grey`; colour first frame -> one global palette built from the first
    /// `GIFOptions.paletteSampleFrames` frames (buffered until then, so memory stays bounded).
    case automatic
    /// The exact 256-level grey palette; frames must have 1 channel. Lossless.
    case grey
    /// A palette the caller built up front (e.g. `GIFWriter.makePalette(sampleFrames:)` over a
    /// sample of a long animation): nothing is buffered.
    case global(Palette)
    /// A palette per frame (local colour tables): best colours per frame, but colours can
    /// flicker between frames and each frame pays for its table.
    case perFrame
}

public struct GIFOptions: Equatable, Sendable {
    /// Frame rate of `add(_:holdFrames:)`, 0 < fps <= 50 (browsers show delays under 2/100 s as 10/100 s).
    public var framesPerSecond: Double
    /// NETSCAPE2.0 loop count: 0 loops forever, n repeats n times, nil plays once (no extension).
    public var loopCount: Int?
    public var palette: GIFPaletteMode
    /// Dithering of colour frames onto a non-exact palette (grey and exact palettes never dither).
    public var dither: Dither
    /// Frames buffered to build the global palette in `.automatic` colour mode.
    public var paletteSampleFrames: Int

    public init(framesPerSecond: Double = 10, loopCount: Int? = 0, palette: GIFPaletteMode = .automatic,
                dither: Dither = .ordered, paletteSampleFrames: Int = 16) {
        self.framesPerSecond = framesPerSecond
        self.loopCount = loopCount
        self.palette = palette
        self.dither = dither
        self.paletteSampleFrames = paletteSampleFrames
    }

    func validate() throws {
        guard framesPerSecond > 0, framesPerSecond <= 50, framesPerSecond.isFinite else {
            throw ImagingError.invalidArgument(name: "frames per second", value: "\(framesPerSecond)",
                                               hint: "use 0 < fps <= 50; GIF delays are in 1/100 s and browsers slow delays under 2/100 s to 10/100 s")
        }
        if let loopCount, !(0...65535).contains(loopCount) {
            throw ImagingError.invalidArgument(name: "loop count", value: "\(loopCount)", hint: "use 0 (forever) to 65535, or nil to play once")
        }
        guard paletteSampleFrames >= 1 else {
            throw ImagingError.invalidArgument(name: "palette sample frames", value: "\(paletteSampleFrames)", hint: "use at least 1")
        }
    }
}

/// Streams an animated GIF89a to disk through giflib, one frame at a time.
///
/// Memory stays bounded: one pending frame of palette indices (plus, in `.automatic` colour
/// mode, the first `paletteSampleFrames` frames until the global palette is fixed).
/// Timing: the writer keeps an exact clock; a frame's delay is the difference of rounded end
/// times, so 30 fps gives 3, 3, 4, ... hundredths and no time is lost over the animation. A frame
/// identical (after quantisation) to the one before extends that frame's delay: holds are
/// never dropped and never shorten the animation. Delays over 655.35 s are split in two frames.
/// Output goes to a temporary file beside `url`, renamed onto it by `finish()`; if the writer
/// fails or is released unfinished, the temporary file is removed.
public final class GIFWriter {
    public let url: URL
    public let width: Int
    public let height: Int
    public let options: GIFOptions

    private let temporaryPath: String
    private var gif: UnsafeMutablePointer<GifFileType>?
    private var mode: GIFPaletteMode
    private var mapper: ColourMapper?
    private var buffered: [(PixelImage, Double)] = []
    private var pending: (indices: [UInt8], palette: Palette?, idealEnd: Double)?
    private var scratch: [UInt8] = []
    private var idealTime: Double = 0
    private var emittedTime = 0
    private var framesAdded = 0
    /// Frames actually written to the file (after merging holds).
    public private(set) var framesWritten = 0
    private var closed = false

    /// The longest a single frame is shown, in hundredths of a second (one hour): bounds the
    /// frames a long hold splits into.
    public static let maximumFrameDelay: Double = 360_000

    /// Frames held in memory right now: palette-sample frames plus the one pending frame.
    var framesHeld: Int { buffered.count + (pending == nil ? 0 : 1) }

    public init(url: URL, width: Int, height: Int, options: GIFOptions = GIFOptions()) throws {
        try options.validate()
        guard (1...65535).contains(width), (1...65535).contains(height) else {
            throw ImagingError.invalidArgument(name: "GIF size", value: "\(width)x\(height)", hint: "width and height must be 1...65535")
        }
        self.url = url
        self.width = width
        self.height = height
        self.options = options
        self.mode = options.palette
        self.temporaryPath = AtomicFile.temporaryPath(for: url)
        if case let .global(palette) = mode { mapper = ColourMapper(palette: palette, dither: options.dither) }
    }

    deinit { abandon() }

    /// Builds a global palette from a representative sample of frames (two-pass use: sample a
    /// long animation first, then stream it with `.global(palette)`).
    public static func makePalette(sampleFrames: [PixelImage], maxColours: Int = 256) -> Palette {
        Palette.build(from: sampleFrames, maxColours: maxColours)
    }

    /// Adds a frame shown for `holdFrames` frame periods (1/fps each).
    public func add(_ frame: PixelImage, holdFrames: Int = 1) throws {
        guard holdFrames >= 1 else {
            throw ImagingError.invalidArgument(name: "hold frames", value: "\(holdFrames)", hint: "a frame is shown for at least 1 frame period")
        }
        guard Double(holdFrames) * 100 / options.framesPerSecond <= Self.maximumFrameDelay else {
            throw ImagingError.invalidArgument(name: "hold frames", value: "\(holdFrames)",
                                               hint: "one frame is shown for at most \(Int(Self.maximumFrameDelay / 100)) s")
        }
        try add(frame, idealDuration: Double(holdFrames) * 100 / options.framesPerSecond)
    }

    /// Adds a frame shown for `centiseconds` hundredths of a second (at least 2).
    public func add(_ frame: PixelImage, delay centiseconds: Int) throws {
        guard centiseconds >= 2 else {
            throw ImagingError.invalidArgument(name: "delay", value: "\(centiseconds)", hint: "use at least 2 hundredths of a second; browsers slow shorter delays to 10")
        }
        guard Double(centiseconds) <= Self.maximumFrameDelay else {
            throw ImagingError.invalidArgument(name: "delay", value: "\(centiseconds)",
                                               hint: "one frame is shown for at most \(Int(Self.maximumFrameDelay / 100)) s")
        }
        try add(frame, idealDuration: Double(centiseconds))
    }

    /// Writes everything still pending, closes the file and renames it onto `url`.
    public func finish() throws {
        guard !closed else { throw ImagingError.writerClosed(path: url.path) }
        do {
            guard framesAdded > 0 else {
                throw ImagingError.invalidArgument(name: "frame count", value: "0", hint: "add at least one frame before finish()")
            }
            if !buffered.isEmpty { try fixPalette() }
            try flushPending()
            var error: Int32 = 0
            let status = EGifCloseFile(gif, &error)
            gif = nil
            if status != GIF_OK { throw ImagingError.gifEncoding(path: url.path, frame: nil, reason: Self.message(error)) }
            closed = true
            try AtomicFile.commit(temporary: temporaryPath, to: url)
        } catch {
            abandon()
            throw error
        }
    }

    // MARK: - Internals

    private func add(_ frame: PixelImage, idealDuration: Double) throws {
        guard !closed else { throw ImagingError.writerClosed(path: url.path) }
        do {
            let index = framesAdded
            guard frame.width == width, frame.height == height else {
                throw ImagingError.frameMismatch(frame: index, expected: "\(width)x\(height)", got: "\(frame.width)x\(frame.height)")
            }
            if mode == .automatic {
                if frame.channels == 1 {
                    mode = .grey
                    mapper = ColourMapper(palette: .grey256, dither: .none)
                } else {
                    mode = .global(Palette.grey256) // placeholder until fixPalette(); frames buffer meanwhile
                    buffered.reserveCapacity(options.paletteSampleFrames)
                }
            }
            if mode == .grey, frame.channels != 1 {
                throw ImagingError.frameMismatch(frame: index, expected: "grey (1 channel)", got: "\(frame.channels) channels")
            }
            framesAdded += 1
            if mapper == nil && mode != .perFrame {
                buffered.append((frame, idealDuration))
                if buffered.count >= options.paletteSampleFrames { try fixPalette() }
                return
            }
            try emit(frame, idealDuration: idealDuration, index: index)
        } catch {
            abandon()
            throw error
        }
    }

    private func fixPalette() throws {
        let palette = Palette.build(from: buffered.map(\.0))
        mode = .global(palette)
        mapper = ColourMapper(palette: palette, dither: options.dither)
        let frames = buffered
        buffered = []
        let first = framesAdded - frames.count
        for (k, (frame, duration)) in frames.enumerated() { try emit(frame, idealDuration: duration, index: first + k) }
    }

    private func emit(_ frame: PixelImage, idealDuration: Double, index: Int) throws {
        var local: Palette?
        var frameMapper: ColourMapper
        if mode == .perFrame {
            let palette = frame.channels == 1 ? Palette.grey256 : Palette.build(from: [frame])
            local = palette
            frameMapper = ColourMapper(palette: palette, dither: options.dither)
        } else {
            frameMapper = mapper!
        }
        frameMapper.map(frame, into: &scratch)
        idealTime += idealDuration
        if var held = pending, held.indices == scratch, held.palette == local {
            held.idealEnd = idealTime
            pending = held
            return
        }
        try flushPending()
        pending = (scratch, local, idealTime)
        _ = index
    }

    private func openIfNeeded() throws {
        if gif != nil { return }
        var error: Int32 = 0
        TemporaryFiles.register(temporaryPath)
        guard let file = EGifOpenFileName(temporaryPath, true, &error) else {
            TemporaryFiles.unregister(temporaryPath)
            throw ImagingError.io(path: url.path, operation: "create a temporary file for", reason: Self.message(error))
        }
        gif = file
        EGifSetGifVersion(file, true)
        var global: UnsafeMutablePointer<ColorMapObject>?
        if case let .global(palette) = mode { global = Self.colourMap(palette) }
        if mode == .grey { global = Self.colourMap(.grey256) }
        defer { GifFreeMapObject(global) }
        let bits = global.map { Int32($0.pointee.BitsPerPixel) } ?? 8
        try check(EGifPutScreenDesc(file, Int32(width), Int32(height), bits, 0, global), frame: nil)
        if let loopCount = options.loopCount {
            try check(EGifPutExtensionLeader(file, APPLICATION_EXT_FUNC_CODE), frame: nil)
            var name = Array("NETSCAPE2.0".utf8)
            try check(EGifPutExtensionBlock(file, 11, &name), frame: nil)
            var loop: [UInt8] = [1, UInt8(loopCount & 0xFF), UInt8(loopCount >> 8)]
            try check(EGifPutExtensionBlock(file, 3, &loop), frame: nil)
            try check(EGifPutExtensionTrailer(file), frame: nil)
        }
    }

    private func flushPending() throws {
        guard let held = pending else { return }
        pending = nil
        try openIfNeeded()
        let end = Int(held.idealEnd.rounded())
        var delay = end - emittedTime
        emittedTime = end
        while delay > 0 {
            // Split delays beyond the 16-bit field, never leaving a remainder under 2.
            var part = min(delay, 65535)
            if delay - part == 1 { part -= 1 }
            try writeFrame(held.indices, palette: held.palette, delay: part)
            delay -= part
        }
    }

    private func writeFrame(_ indices: [UInt8], palette: Palette?, delay: Int) throws {
        guard let file = gif else { return }
        let frame = framesWritten
        var control: [UInt8] = [0x04, UInt8(delay & 0xFF), UInt8(delay >> 8), 0] // disposal 1: leave in place
        try check(EGifPutExtension(file, GRAPHICS_EXT_FUNC_CODE, 4, &control), frame: frame)
        let local = palette.map(Self.colourMap)
        defer { GifFreeMapObject(local ?? nil) }
        try check(EGifPutImageDesc(file, 0, 0, Int32(width), Int32(height), false, local ?? nil), frame: frame)
        var line = indices
        try check(EGifPutLine(file, &line, Int32(indices.count)), frame: frame)
        framesWritten += 1
    }

    private func check(_ status: Int32, frame: Int?) throws {
        if status != GIF_OK {
            throw ImagingError.gifEncoding(path: url.path, frame: frame, reason: Self.message(gif?.pointee.Error ?? 0))
        }
    }

    /// Closes and removes the temporary file; the writer is unusable afterwards.
    private func abandon() {
        if let file = gif {
            var error: Int32 = 0
            EGifCloseFile(file, &error)
            gif = nil
        }
        if !closed { Safety.AtomicFile.discard(temporary: temporaryPath) }
        closed = true
        buffered = []
        pending = nil
    }

    /// A giflib colour map; sizes round up to a power of two (>= 2), padded with black.
    static func colourMap(_ palette: Palette) -> UnsafeMutablePointer<ColorMapObject>? {
        var size = 2
        while size < palette.colours.count { size *= 2 }
        var entries = [GifColorType](repeating: GifColorType(Red: 0, Green: 0, Blue: 0), count: size)
        for (i, c) in palette.colours.enumerated() { entries[i] = GifColorType(Red: c.r, Green: c.g, Blue: c.b) }
        return GifMakeMapObject(Int32(size), &entries)
    }

    static func message(_ code: Int32) -> String {
        if let text = GifErrorString(code) { return String(cString: text) + " (giflib error \(code))" }
        return "giflib error \(code)"
    }
}

public enum GIF {
    /// Writes `frames` as a looping GIF at `fps`. Colour frames share one global palette built
    /// from all of them; identical consecutive frames become one frame with a longer delay.
    public static func write(frames: [PixelImage], fps: Double, to url: URL, options: GIFOptions = GIFOptions()) throws {
        guard let first = frames.first else {
            throw ImagingError.invalidArgument(name: "frame count", value: "0", hint: "pass at least one frame")
        }
        var options = options
        options.framesPerSecond = fps
        if options.palette == .automatic && first.channels != 1 {
            options.palette = .global(Palette.build(from: frames))
        }
        let writer = try GIFWriter(url: url, width: first.width, height: first.height, options: options)
        for frame in frames { try writer.add(frame) }
        try writer.finish()
    }
}
