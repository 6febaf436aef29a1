import Foundation
import XCTest
import Imaging

/// A fresh directory under the system temporary directory.
func makeTemporaryDirectory(_ name: String = "imaging-tests") throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// On a failed codec comparison: writes both images as PNG for a look and returns the directory.
func writeForLook(expected: PixelImage, actual: PixelImage, name: String) -> String {
    guard let directory = try? makeTemporaryDirectory("imaging-failure-\(name)") else { return "(could not create a directory)" }
    try? PNG.write(expected.removingAlpha(), to: directory.appendingPathComponent("expected.png"))
    try? PNG.write(actual.removingAlpha(), to: directory.appendingPathComponent("actual.png"))
    return directory.path
}

/// Asserts two images are identical; on failure writes both out and names the directory.
func assertSameImage(_ actual: PixelImage, _ expected: PixelImage, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    if actual != expected {
        let directory = writeForLook(expected: expected, actual: actual, name: name)
        XCTFail("\(name): decoded image differs from the input (\(actual.width)x\(actual.height)x\(actual.channels) vs \(expected.width)x\(expected.height)x\(expected.channels)); both written to \(directory)", file: file, line: line)
    }
}

/// Deterministic pseudo-random bytes (SplitMix64) for test images.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next() >> 56) }
}

func randomImage(width: Int, height: Int, channels: Int, seed: UInt64) -> PixelImage {
    var rng = SplitMix64(seed: seed)
    var image = PixelImage(width: width, height: height, channels: channels)
    for i in image.pixels.indices { image.pixels[i] = rng.byte() }
    return image
}

/// A smooth colour gradient with a little noise: what quantisers see from generators.
func gradientImage(width: Int, height: Int, phase: Int, seed: UInt64) -> PixelImage {
    var rng = SplitMix64(seed: seed)
    var image = PixelImage(width: width, height: height, channels: 3)
    for y in 0..<height {
        for x in 0..<width {
            let noise = Int(rng.next() % 9) - 4
            let r = (x * 255 / max(1, width - 1) + phase) % 256
            let g = y * 255 / max(1, height - 1)
            let b = 255 - (x + y) * 255 / max(1, width + height - 2)
            image[x, y, 0] = UInt8(clamping: r + noise)
            image[x, y, 1] = UInt8(clamping: g + noise)
            image[x, y, 2] = UInt8(clamping: b - noise)
        }
    }
    return image
}

// MARK: - A hand-made PNG writer (independent of libpng) for read tests

/// Builds PNG files byte by byte with stored (uncompressed) zlib blocks, so read tests exercise
/// colour types and bit depths that `PNG.write` does not produce (palette, grey+alpha, 16-bit).
enum HandmadePNG {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return (b << 16) | a
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typed + bigEndian(crc32(typed))
    }

    /// `rows` are the raw scanlines without the filter byte (filter 0 is added).
    static func make(width: Int, height: Int, bitDepth: UInt8, colourType: UInt8, rows: [[UInt8]],
                     palette: [RGB]? = nil, transparency: [UInt8]? = nil) -> [UInt8] {
        var raw: [UInt8] = []
        for row in rows { raw.append(0); raw += row }
        // zlib: header, one stored block per 65535 bytes, adler32.
        var z: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, raw.count - offset)
            let final: UInt8 = offset + n == raw.count ? 1 : 0
            z += [final, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)]
            z += raw[offset..<offset + n]
            offset += n
        } while offset < raw.count
        z += bigEndian(adler32(raw))
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [bitDepth, colourType, 0, 0, 0])
        if let palette { png += chunk("PLTE", palette.flatMap { [$0.r, $0.g, $0.b] }) }
        if let transparency { png += chunk("tRNS", transparency) }
        png += chunk("IDAT", z)
        png += chunk("IEND", [])
        return png
    }
}
