import CGIF
import Foundation

/// A decoded GIF: full composited frames, their delays and the loop count.
public struct DecodedGIF: Sendable {
    /// Frames at the logical screen size; 1 channel when every colour table is grey, else RGB.
    public var frames: [PixelImage]
    /// Per-frame delays in hundredths of a second (0 when a frame has no graphics control).
    public var delays: [Int]
    /// NETSCAPE2.0 loop count (0 = forever), or nil when the file has no looping extension.
    public var loopCount: Int?
}

extension GIF {
    /// Largest canvas decoded (pixels), so a corrupt header cannot ask for gigabytes.
    static let maxCanvasPixels = 1 << 26
    /// Most bytes a whole file may decode to: every frame's raster as giflib holds it, plus
    /// every composited RGB frame returned. Checked by `checkSizes` before giflib allocates.
    static let maxDecodedBytes = 1 << 29

    /// Walks the file's blocks (header, colour tables, extensions, image descriptors and their
    /// data sub-blocks) without decoding, and refuses a frame or a total too large to decode.
    /// A malformed or truncated structure is left for giflib to report.
    static func checkSizes(_ bytes: [UInt8]) throws {
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        guard bytes.count >= 13 else { return }
        let width = u16(6), height = u16(8)
        var i = 13
        if bytes[10] & 0x80 != 0 { i += 3 << ((Int(bytes[10]) & 7) + 1) }
        var frames = 0, rasterBytes = 0
        /// Skips data sub-blocks (a length byte, then that many bytes) up to the empty one.
        func skipSubBlocks() -> Bool {
            while i < bytes.count {
                let n = Int(bytes[i]); i += 1
                if n == 0 { return true }
                i += n
            }
            return false
        }
        while i < bytes.count {
            switch bytes[i] {
            case 0x21:
                i += 2
                guard skipSubBlocks() else { return }
            case 0x2C:
                guard i + 10 <= bytes.count else { return }
                let w = u16(i + 5), h = u16(i + 7), packed = bytes[i + 9]
                guard w * h <= maxCanvasPixels else {
                    throw ImagingError.corruptGIF(path: nil, frame: frames, reason: "frame is \(w)x\(h), over the limit of \(maxCanvasPixels) pixels (image descriptor at byte \(i))")
                }
                frames += 1
                rasterBytes += w * h
                let total = rasterBytes + frames * width * height * 3
                guard total <= maxDecodedBytes else {
                    throw ImagingError.corruptGIF(path: nil, frame: frames - 1, reason: "the frames up to this one decode to more than \(maxDecodedBytes) bytes (\(width)x\(height) screen); split the animation")
                }
                i += 10
                if packed & 0x80 != 0 { i += 3 << ((Int(packed) & 7) + 1) }
                i += 1  // LZW minimum code size
                guard skipSubBlocks() else { return }
            default:
                return  // the trailer (0x3B), or damage giflib will name
            }
        }
    }

    public static func read(_ url: URL) throws -> DecodedGIF {
        let bytes = try AtomicFile.readBytes(url)
        do {
            return try decode(bytes)
        } catch ImagingError.corruptGIF(_, let frame, let reason) {
            throw ImagingError.corruptGIF(path: url.path, frame: frame, reason: reason)
        }
    }

    /// Decodes with giflib's `DGifSlurp`, then composites frames (position, transparency,
    /// disposal modes 0-3) onto the logical screen.
    public static func decode(_ bytes: [UInt8]) throws -> DecodedGIF {
        try checkSizes(bytes)
        let source = MemorySource(bytes)
        let context = Unmanaged.passRetained(source)
        defer { context.release() }
        var error: Int32 = 0
        guard let file = DGifOpen(context.toOpaque(), { file, buffer, count in
            guard let file, let buffer, let user = file.pointee.UserData else { return 0 }
            return Unmanaged<MemorySource>.fromOpaque(user).takeUnretainedValue().read(into: buffer, count: Int(count))
        }, &error) else {
            throw ImagingError.corruptGIF(path: nil, frame: nil, reason: GIFWriter.message(error))
        }
        defer { var closeError: Int32 = 0; DGifCloseFile(file, &closeError) }
        if DGifSlurp(file) != GIF_OK {
            let frame = file.pointee.ImageCount > 0 ? Int(file.pointee.ImageCount) - 1 : nil
            throw ImagingError.corruptGIF(path: nil, frame: frame, reason: GIFWriter.message(file.pointee.Error) + " near byte \(source.offset)")
        }
        let gif = file.pointee
        let width = Int(gif.SWidth), height = Int(gif.SHeight)
        guard width > 0, height > 0, width * height <= maxCanvasPixels else {
            throw ImagingError.corruptGIF(path: nil, frame: nil, reason: "logical screen \(width)x\(height) is empty or too large")
        }
        guard gif.ImageCount > 0, let saved = gif.SavedImages else {
            throw ImagingError.corruptGIF(path: nil, frame: nil, reason: "no image in the file")
        }
        let count = Int(gif.ImageCount)
        func colours(_ map: UnsafeMutablePointer<ColorMapObject>?) -> [RGB]? {
            guard let map, let entries = map.pointee.Colors else { return nil }
            return (0..<Int(map.pointee.ColorCount)).map { RGB(entries[$0].Red, entries[$0].Green, entries[$0].Blue) }
        }
        let global = colours(gif.SColorMap)
        var allGrey = global.map { $0.allSatisfy { $0.r == $0.g && $0.g == $0.b } } ?? true
        for i in 0..<count {
            if let local = colours(saved[i].ImageDesc.ColorMap) { allGrey = allGrey && local.allSatisfy { $0.r == $0.g && $0.g == $0.b } }
        }
        let background = global.flatMap { Int(gif.SBackGroundColor) < $0.count ? $0[Int(gif.SBackGroundColor)] : nil } ?? .black
        var canvas = PixelImage(width: width, height: height, channels: 3)
        fill(&canvas, x: 0..<width, y: 0..<height, background)
        var frames: [PixelImage] = []
        var delays: [Int] = []
        for i in 0..<count {
            let image = saved[i]
            let desc = image.ImageDesc
            guard let palette = colours(desc.ColorMap) ?? global else {
                throw ImagingError.corruptGIF(path: nil, frame: i, reason: "frame has no colour table and the file has no global one")
            }
            var control = GraphicsControlBlock()
            var transparent = -1, disposal = 0, delay = 0
            if DGifSavedExtensionToGCB(file, Int32(i), &control) == GIF_OK {
                transparent = Int(control.TransparentColor)
                disposal = Int(control.DisposalMode)
                delay = Int(control.DelayTime)
            }
            let previous = canvas
            let left = Int(desc.Left), top = Int(desc.Top), w = Int(desc.Width), h = Int(desc.Height)
            guard let raster = image.RasterBits, w > 0, h > 0 else {
                throw ImagingError.corruptGIF(path: nil, frame: i, reason: "frame has no pixels")
            }
            // A frame may lie partly or wholly off the screen; only what is on it is drawn
            // (and, with disposal 2, cleared), so the work is bounded by the screen.
            let rows = top < height ? min(h, height - top) : 0
            let columns = left < width ? min(w, width - left) : 0
            let stride = canvas.stride
            canvas.pixels.withUnsafeMutableBufferPointer { px in
                for y in 0..<rows {
                    let row = (top + y) * stride + 3 * left
                    for x in 0..<columns {
                        let index = Int(raster[y * w + x])
                        if index == transparent || index >= palette.count { continue }
                        let c = palette[index]
                        px[row + 3 * x] = c.r; px[row + 3 * x + 1] = c.g; px[row + 3 * x + 2] = c.b
                    }
                }
            }
            frames.append(allGrey ? canvas.converted(toChannels: 1) : canvas)
            delays.append(delay)
            if disposal == DISPOSE_BACKGROUND {
                fill(&canvas, x: left..<(left + columns), y: top..<(top + rows), background)
            } else if disposal == DISPOSE_PREVIOUS {
                canvas = previous
            }
        }
        return DecodedGIF(frames: frames, delays: delays, loopCount: loopCount(file))
    }

    /// Paints a rectangle of an RGB canvas: one row of the colour, copied into each row.
    private static func fill(_ canvas: inout PixelImage, x: Range<Int>, y: Range<Int>, _ colour: RGB) {
        guard !x.isEmpty, !y.isEmpty else { return }
        var row = [UInt8](repeating: 0, count: 3 * x.count)
        for i in 0..<x.count { row[3 * i] = colour.r; row[3 * i + 1] = colour.g; row[3 * i + 2] = colour.b }
        let stride = canvas.stride
        canvas.pixels.withUnsafeMutableBytes { px in
            row.withUnsafeBytes { src in
                for line in y { (px.baseAddress! + line * stride + 3 * x.lowerBound).copyMemory(from: src.baseAddress!, byteCount: src.count) }
            }
        }
    }

    /// Finds the NETSCAPE2.0 (or ANIMEXTS1.0) application extension and its loop sub-block.
    private static func loopCount(_ file: UnsafeMutablePointer<GifFileType>) -> Int? {
        var lists: [(Int, UnsafeMutablePointer<ExtensionBlock>?)] = [(Int(file.pointee.ExtensionBlockCount), file.pointee.ExtensionBlocks)]
        if let saved = file.pointee.SavedImages {
            for i in 0..<Int(file.pointee.ImageCount) { lists.append((Int(saved[i].ExtensionBlockCount), saved[i].ExtensionBlocks)) }
        }
        for (n, blocks) in lists {
            guard let blocks else { continue }
            for j in 0..<n where blocks[j].Function == APPLICATION_EXT_FUNC_CODE && blocks[j].ByteCount == 11 && j + 1 < n {
                let name = String(decoding: UnsafeBufferPointer(start: blocks[j].Bytes, count: 11), as: UTF8.self)
                guard name == "NETSCAPE2.0" || name == "ANIMEXTS1.0" else { continue }
                let sub = blocks[j + 1]
                guard sub.ByteCount >= 3, let bytes = sub.Bytes, bytes[0] == 1 else { continue }
                return Int(bytes[1]) | Int(bytes[2]) << 8
            }
        }
        return nil
    }

    private final class MemorySource {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) -> Int32 {
            let n = max(0, min(count, bytes.count - offset))
            bytes.withUnsafeBufferPointer { src in
                if n > 0 { buffer.update(from: src.baseAddress! + offset, count: n) }
            }
            offset += n
            return Int32(n)
        }
    }
}
