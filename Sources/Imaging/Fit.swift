import Foundation

/// A PNG brought to a fixed size: what was read and what it became.
public struct FittedImage: Equatable, Sendable {
    /// The fitted pixels: `width` x `height`, the decoded file's channels (1, 3 or 4).
    public var image: PixelImage
    public var sourceWidth: Int
    public var sourceHeight: Int
    public var sourceChannels: Int
}

extension PNG {
    /// Width and height from the IHDR chunk, read without decoding; nil when `bytes` do not
    /// start with a PNG signature and an IHDR chunk.
    public static func dimensions(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 24, Array(bytes[0..<8]) == signature, Array(bytes[12..<16]) == Array("IHDR".utf8) else { return nil }
        func be32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }

    /// Reads a PNG and fits it to `width` x `height`: the largest centred crop of the target's
    /// aspect ratio, then the smooth resize of `PixelImage.resized` (area average when
    /// shrinking). The size in the header is checked against `maxPixels` before anything is
    /// decoded, and the crop and resize read the decoder's buffer directly, so the full-size
    /// pixels exist once.
    public static func readFitted(_ url: URL, width: Int, height: Int, maxPixels: Int) throws -> FittedImage {
        try fitted(try AtomicFile.readBytes(url), width: width, height: height, maxPixels: maxPixels, path: url.path)
    }

    /// `readFitted` on bytes already in memory (an upload); `path` only names them in errors.
    public static func fitted(_ bytes: [UInt8], width: Int, height: Int, maxPixels: Int, path: String? = nil) throws -> FittedImage {
        precondition(width > 0 && height > 0 && maxPixels > 0)
        guard let size = dimensions(bytes) else {
            throw ImagingError.corruptPNG(path: path, reason: bytes.isEmpty ? "no data (0 bytes)" : "no PNG signature (not a PNG file)")
        }
        guard size.width > 0, size.height > 0, size.width <= maxPixels / max(1, size.height) else {
            throw ImagingError.invalidArgument(name: "image size", value: "\(size.width)x\(size.height)" + (path.map { " in '\($0)'" } ?? ""),
                                               hint: "at most \(maxPixels) pixels are decoded; shrink the image first")
        }
        do {
            return try withDecodedPixels(bytes) { pixels, sw, sh, c in
                let region = centredCrop(width: sw, height: sh, aspectWidth: width, aspectHeight: height)
                let image = PixelImage.resample(pixels, width: sw, height: sh, channels: c, stride: sw * c,
                                                region: region, toWidth: width, height: height)
                return FittedImage(image: image, sourceWidth: sw, sourceHeight: sh, sourceChannels: c)
            }
        } catch ImagingError.corruptPNG(_, let reason) {
            throw ImagingError.corruptPNG(path: path, reason: reason)
        }
    }

    /// The largest rectangle of aspect `aspectWidth : aspectHeight` centred in a
    /// `width` x `height` image (odd leftovers go to the right and bottom).
    static func centredCrop(width: Int, height: Int, aspectWidth: Int, aspectHeight: Int) -> (x: Int, y: Int, width: Int, height: Int) {
        // Compare width/height with aspectWidth/aspectHeight without rounding.
        if width * aspectHeight > height * aspectWidth {
            let w = max(1, height * aspectWidth / aspectHeight)
            return ((width - w) / 2, 0, w, height)
        }
        let h = max(1, width * aspectHeight / aspectWidth)
        return (0, (height - h) / 2, width, h)
    }
}
