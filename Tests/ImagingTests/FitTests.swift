import Foundation
import XCTest
import Imaging

/// PNG.dimensions and PNG.readFitted: the header read before decoding, the centred crop and
/// the smooth resize applied straight to the decoder's buffer.
final class FitTests: XCTestCase {
    /// A `width` x `height` RGB image whose pixel (x, y) is (x, y, 7).
    func ramp(_ width: Int, _ height: Int) -> PixelImage {
        var image = PixelImage(width: width, height: height, channels: 3)
        for y in 0..<height { for x in 0..<width { image.setPixel(x: x, y: y, RGB(UInt8(x % 256), UInt8(y % 256), 7)) } }
        return image
    }

    func testHeaderGivesTheSizeWithoutDecoding() throws {
        let bytes = try PNG.encode(ramp(300, 20))
        XCTAssertEqual(PNG.dimensions(bytes)?.width, 300)
        XCTAssertEqual(PNG.dimensions(bytes)?.height, 20)
        XCTAssertNil(PNG.dimensions(Array("GIF89a plus enough bytes to pass".utf8)))
        XCTAssertNil(PNG.dimensions(Array(bytes.prefix(20))))
    }

    func testWideImageIsCentreCroppedThenResized() throws {
        let dir = try makeTemporaryDirectory("fit")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("wide.png")
        // 12 x 4 -> 2 x 2: the centred 4 x 4 square (x 4...7), then 2 x 2 area averages.
        let source = ramp(12, 4)
        try PNG.write(source, to: url)
        let fit = try PNG.readFitted(url, width: 2, height: 2, maxPixels: 1000)
        XCTAssertEqual([fit.sourceWidth, fit.sourceHeight, fit.sourceChannels], [12, 4, 3])
        XCTAssertEqual(fit.image, source.resized(width: 12, height: 4).cropForTest(x: 4, y: 0, width: 4, height: 4).resized(width: 2, height: 2))
        XCTAssertEqual(fit.image.pixel(x: 0, y: 0), [5, 1, 7])      // mean of x 4, 5 and y 0, 1 (4.5 and 0.5 rounded)
        XCTAssertEqual(fit.image.pixel(x: 1, y: 1), [7, 3, 7])
        // Tall: 3 x 9 -> 1 x 1 of the middle 3 x 3.
        try PNG.write(ramp(3, 9), to: url)
        XCTAssertEqual(try PNG.readFitted(url, width: 1, height: 1, maxPixels: 1000).image.pixel(x: 0, y: 0), [1, 4, 7])
    }

    func testRefusesBeforeDecodingWhenTooLargeAndNamesCorruptFiles() throws {
        let dir = try makeTemporaryDirectory("fit")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a.png")
        try PNG.write(ramp(40, 30), to: url)
        XCTAssertThrowsError(try PNG.readFitted(url, width: 8, height: 8, maxPixels: 1199)) { error in
            XCTAssertTrue("\(error)".contains("40x30"), "\(error)")
        }
        XCTAssertNoThrow(try PNG.readFitted(url, width: 8, height: 8, maxPixels: 1200))
        try Data("hello".utf8).write(to: url)
        XCTAssertThrowsError(try PNG.readFitted(url, width: 8, height: 8, maxPixels: 1200)) { error in
            XCTAssertTrue("\(error)".contains("no PNG signature"), "\(error)")
        }
    }
}

extension PixelImage {
    /// A copy of a rectangle, for comparing against the crop `readFitted` does in place.
    func cropForTest(x: Int, y: Int, width w: Int, height h: Int) -> PixelImage {
        var out = PixelImage(width: w, height: h, channels: channels)
        for j in 0..<h { for i in 0..<w { for c in 0..<channels { out.pixels[out.offset(x: i, y: j) + c] = self[x + i, y + j, c] } } }
        return out
    }
}
