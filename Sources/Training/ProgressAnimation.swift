import CGIF
import Foundation
import Imaging

/// A small animated-GIF writer for training progress (sample grids, toy plots), through giflib.
/// It is an adapter: when main's Imaging gains a GIF encoder, this body becomes one call to it.
/// Grey frames use 256 greys; colour frames a fixed 6x7x6 colour cube (no dithering).
public enum ProgressAnimation {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot write \(path): \(reason)" }
    }

    public static func writeGIF(_ frames: [PixelImage], delayCentiseconds: Int, to url: URL) throws {
        guard let first = frames.first else { throw Failure(path: url.path, reason: "no frames to write") }
        guard frames.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
            throw Failure(path: url.path, reason: "frames differ in size")
        }
        let grey = frames.allSatisfy { $0.channels == 1 }
        var colours = [GifColorType]()
        if grey {
            colours = (0..<256).map { GifColorType(Red: UInt8($0), Green: UInt8($0), Blue: UInt8($0)) }
        } else {
            for r in 0..<6 { for g in 0..<7 { for b in 0..<6 {
                colours.append(GifColorType(Red: UInt8(r * 51), Green: UInt8(g * 255 / 6), Blue: UInt8(b * 51)))
            } } }
            while colours.count < 256 { colours.append(GifColorType(Red: 0, Green: 0, Blue: 0)) }
        }
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        var error: Int32 = 0
        guard let gif = EGifOpenFileName(temp.path, false, &error) else {
            throw Failure(path: url.path, reason: "giflib error \(error) opening \(temp.path); does the folder exist?")
        }
        var ok = true
        EGifSetGifVersion(gif, true)
        let map = colours.withUnsafeBufferPointer { GifMakeMapObject(256, $0.baseAddress) }
        defer { GifFreeMapObject(map) }
        ok = ok && EGifPutScreenDesc(gif, Int32(first.width), Int32(first.height), 8, 0, map) == GIF_OK
        // Loop forever: the NETSCAPE2.0 application extension.
        ok = ok && EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_OK
        ok = ok && Array("NETSCAPE2.0".utf8).withUnsafeBufferPointer { EGifPutExtensionBlock(gif, 11, $0.baseAddress) } == GIF_OK
        ok = ok && [UInt8]([1, 0, 0]).withUnsafeBufferPointer { EGifPutExtensionBlock(gif, 3, $0.baseAddress) } == GIF_OK
        ok = ok && EGifPutExtensionTrailer(gif) == GIF_OK
        var line = [GifPixelType](repeating: 0, count: first.width)
        for frame in frames where ok {
            let control: [UInt8] = [0, UInt8(delayCentiseconds & 0xFF), UInt8(delayCentiseconds >> 8), 0]
            ok = ok && control.withUnsafeBufferPointer { EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, $0.baseAddress) } == GIF_OK
            ok = ok && EGifPutImageDesc(gif, 0, 0, Int32(frame.width), Int32(frame.height), false, nil) == GIF_OK
            for y in 0..<frame.height where ok {
                for x in 0..<frame.width {
                    if grey { line[x] = frame[x, y, 0]; continue }
                    let p = frame.rgb(x: x, y: y)
                    let r = (Int(p.r) * 5 + 127) / 255, g = (Int(p.g) * 6 + 127) / 255, b = (Int(p.b) * 5 + 127) / 255
                    line[x] = GifPixelType((r * 7 + g) * 6 + b)
                }
                ok = line.withUnsafeMutableBufferPointer { EGifPutLine(gif, $0.baseAddress, Int32(frame.width)) } == GIF_OK
            }
        }
        let closed = EGifCloseFile(gif, &error) == GIF_OK
        guard ok && closed else {
            try? FileManager.default.removeItem(at: temp)
            throw Failure(path: url.path, reason: "giflib error \(error)")
        }
        if rename(temp.path, url.path) != 0 {
            throw Failure(path: url.path, reason: String(cString: strerror(errno)))
        }
    }
}
