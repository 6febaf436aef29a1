import CPNG
import Foundation

/// PNG through libpng's simplified `png_image` API (see `Sources/CPNG`), which catches libpng's
/// `longjmp` in C: a corrupt or truncated file is a thrown `ImagingError.corruptPNG`, never a crash.
///
/// Reading: 8-bit grey -> 1 channel; RGB and palette -> 3; grey+alpha, RGBA and palette with
/// transparency -> 4 (RGBA). 16-bit files are reduced to 8 bits, low bit depths expanded.
/// libpng applies a file's gAMA/cHRM/sRGB chunks to deliver sRGB values (files without them
/// read unchanged).
/// Writing: 1, 3 or 4 channel images as 8-bit grey, RGB or RGBA, atomically (temporary file,
/// then rename).
public enum PNG {
    public static func read(_ url: URL) throws -> PixelImage {
        let bytes = try AtomicFile.readBytes(url)
        do {
            return try decode(bytes)
        } catch ImagingError.corruptPNG(_, let reason) {
            throw ImagingError.corruptPNG(path: url.path, reason: reason)
        }
    }

    public static func write(_ image: PixelImage, to url: URL) throws {
        try AtomicFile.write(try encode(image), to: url)
    }

    public static func encode(_ image: PixelImage) throws -> [UInt8] {
        var message = [CChar](repeating: 0, count: 256)
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        let ok = image.pixels.withUnsafeBufferPointer { pixels in
            forger_png_encode(pixels.baseAddress, UInt32(image.width), UInt32(image.height), Int32(image.channels),
                              image.stride, &output, &size, &message, message.count)
        }
        defer { forger_png_free(output) }
        guard ok == 1, let output else {
            throw ImagingError.invalidArgument(name: "PNG image", value: "\(image.width)x\(image.height)x\(image.channels)",
                                               hint: "libpng refused to encode it: \(String(cString: message))")
        }
        return [UInt8](UnsafeBufferPointer(start: output, count: size))
    }

    /// How many decoded bytes one byte of file may stand for. Deflate expands at most about
    /// 1032:1, and a 1-bit palette image with transparency grows 32 times more when expanded
    /// to RGBA; a header claiming more pixels than that is refused before anything is
    /// allocated. The floor lets small files hold small images whatever their content.
    static let maxExpansion = 1 << 16
    static let expansionFloor = 1 << 24

    public static func decode(_ bytes: [UInt8]) throws -> PixelImage {
        try withDecodedPixels(bytes) { pixels, width, height, channels in
            try PixelImage(width: width, height: height, channels: channels, pixels: Array(pixels))
        }
    }

    /// Decodes `bytes` and lends the decoder's own buffer (width * height * channels bytes, rows
    /// packed) to `body`; it is freed when `body` returns, so callers that only need a smaller
    /// image derived from it never hold a second full-size copy.
    static func withDecodedPixels<T>(_ bytes: [UInt8],
                                     _ body: (UnsafeBufferPointer<UInt8>, _ width: Int, _ height: Int, _ channels: Int) throws -> T) throws -> T {
        guard !bytes.isEmpty else { throw ImagingError.corruptPNG(path: nil, reason: "no data (0 bytes)") }
        var message = [CChar](repeating: 0, count: 256)
        var width: UInt32 = 0, height: UInt32 = 0
        var channels: Int32 = 0
        var output: UnsafeMutablePointer<UInt8>?
        let ok = bytes.withUnsafeBufferPointer { data in
            let (limit, overflow) = data.count.multipliedReportingOverflow(by: maxExpansion)
            return forger_png_decode(data.baseAddress, data.count, overflow ? Int.max : limit + expansionFloor,
                                     &width, &height, &channels, &output, &message, message.count)
        }
        defer { forger_png_free(output) }
        guard ok == 1, let output else {
            throw ImagingError.corruptPNG(path: nil, reason: String(cString: message))
        }
        let count = Int(width) * Int(height) * Int(channels)
        return try body(UnsafeBufferPointer(start: output, count: count), Int(width), Int(height), Int(channels))
    }
}
