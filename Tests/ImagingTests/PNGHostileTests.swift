import Foundation
import XCTest
@testable import Imaging

/// A PNG's header can claim up to 2^31 x 2^31 pixels in a few dozen bytes. The reader used to
/// allocate whatever the header claimed below 2 GB before libpng found the data missing; it
/// now refuses an image larger than its file could hold (see `PNG.maxExpansion`).
final class PNGHostileTests: XCTestCase {
    /// CRC-32 as PNG chunks use it (ISO 3309, reflected, polynomial 0xEDB88320).
    func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    /// A valid 1x1 grey PNG whose IHDR then claims `width` x `height` (CRC fixed up).
    func claiming(width: UInt32, height: UInt32) throws -> [UInt8] {
        var png = try PNG.encode(PixelImage(width: 1, height: 1, channels: 1))
        func put(_ v: UInt32, at o: Int) { for k in 0..<4 { png[o + k] = UInt8(v >> (24 - 8 * k) & 0xFF) } }
        put(width, at: 16); put(height, at: 20)
        put(crc32(png[12..<29]), at: 29)
        return png
    }

    func testHeadersClaimingMoreThanTheFileHoldsAreRefused() throws {
        let small = try claiming(width: 1, height: 1)
        XCTAssertEqual(try PNG.decode(small).width, 1)
        for (w, h) in [(30_000, 30_000), (1 << 19, 1 << 12), (46_000, 46_000)] {
            XCTAssertThrowsError(try PNG.decode(try claiming(width: UInt32(w), height: UInt32(h)))) { error in
                XCTAssertTrue("\(error)".contains("decodes to more than this"), "\(w)x\(h): \(error)")
            }
        }
    }

    func testLargeImagesThatCompressWellStillRead() throws {
        // 4096 x 4096 of one grey level: a few kB of file for 16 MB of pixels, well inside the bound.
        var image = PixelImage(width: 4096, height: 4096, channels: 1)
        for y in 0..<4096 { for x in 0..<4096 { image[x, y, 0] = 200 } }
        let bytes = try PNG.encode(image)
        XCTAssertLessThan(bytes.count, 100_000)
        XCTAssertEqual(try PNG.decode(bytes).pixels.count, 4096 * 4096)
    }
}
