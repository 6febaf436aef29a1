import XCTest
@testable import Imaging

final class PNGTests: XCTestCase {
    func testRoundTripGreyRGBRGBA() throws {
        for channels in [1, 3, 4] {
            let image = randomImage(width: 37, height: 23, channels: channels, seed: UInt64(channels))
            let decoded = try PNG.decode(PNG.encode(image))
            assertSameImage(decoded, image, "png-roundtrip-\(channels)")
        }
    }

    func testRoundTripWithStrideAndFile() throws {
        var pixels = [UInt8](repeating: 0, count: 5 * 3)
        for i in pixels.indices { pixels[i] = UInt8(i * 11) }
        let image = try PixelImage(width: 4, height: 3, channels: 1, stride: 5, pixels: pixels)
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("a.png")
        try PNG.write(image, to: url)
        assertSameImage(try PNG.read(url), image, "png-stride")
        // Only the PNG is left in the directory: the temporary file was renamed.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["a.png"])
    }

    func testReadsPaletteExpanded() throws {
        let palette = [RGB(255, 0, 0), RGB(0, 255, 0), RGB(0, 0, 255), RGB(10, 20, 30)]
        // 2-bit palette indices, 4 pixels per byte: row 0 = 0,1,2,3; row 1 = 3,2,1,0.
        let bytes = HandmadePNG.make(width: 4, height: 2, bitDepth: 2, colourType: 3,
                                     rows: [[0b00_01_10_11], [0b11_10_01_00]], palette: palette)
        let image = try PNG.decode(bytes)
        XCTAssertEqual(image.channels, 3)
        XCTAssertEqual(image.pixels, [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30,
                                      10, 20, 30, 0, 0, 255, 0, 255, 0, 255, 0, 0])
    }

    func testReadsPaletteWithTransparencyAsRGBA() throws {
        let bytes = HandmadePNG.make(width: 2, height: 1, bitDepth: 8, colourType: 3, rows: [[0, 1]],
                                     palette: [RGB(1, 2, 3), RGB(4, 5, 6)], transparency: [0])
        let image = try PNG.decode(bytes)
        XCTAssertEqual(image.channels, 4)
        XCTAssertEqual(image.pixel(x: 0, y: 0)[3], 0)
        XCTAssertEqual(image.pixel(x: 1, y: 0), [4, 5, 6, 255])
    }

    func testReadsGreyAlphaAsRGBA() throws {
        let bytes = HandmadePNG.make(width: 2, height: 1, bitDepth: 8, colourType: 4, rows: [[200, 255, 50, 128]])
        let image = try PNG.decode(bytes)
        XCTAssertEqual(image.channels, 4)
        XCTAssertEqual(image.pixels, [200, 200, 200, 255, 50, 50, 50, 128])
    }

    func testReadsHandmadeGreyRGBAndSixteenBit() throws {
        let grey = try PNG.decode(HandmadePNG.make(width: 3, height: 1, bitDepth: 8, colourType: 0, rows: [[0, 127, 255]]))
        XCTAssertEqual(grey.channels, 1)
        XCTAssertEqual(grey.pixels, [0, 127, 255])
        let rgba = try PNG.decode(HandmadePNG.make(width: 1, height: 1, bitDepth: 8, colourType: 6, rows: [[9, 8, 7, 6]]))
        XCTAssertEqual(rgba.pixels, [9, 8, 7, 6])
        // 16-bit grey: 0xFFFF -> 255, 0x0000 -> 0. (Mid-tones go through libpng's linear->sRGB
        // conversion for 16-bit files without gAMA; see PNG's documentation.)
        let deep = try PNG.decode(HandmadePNG.make(width: 2, height: 1, bitDepth: 16, colourType: 0, rows: [[0xFF, 0xFF, 0, 0]]))
        XCTAssertEqual(deep.pixels, [255, 0])
    }

    func testCorruptAndTruncatedThrow() throws {
        let good = try PNG.encode(randomImage(width: 64, height: 64, channels: 3, seed: 9))
        XCTAssertNoThrow(try PNG.decode(good))
        // Truncated at several places: inside the signature, IHDR, IDAT, before IEND.
        for cut in [0, 4, 20, 40, good.count / 2, good.count - 13] {
            XCTAssertThrowsError(try PNG.decode(Array(good.prefix(cut))), "truncated at \(cut)") { error in
                XCTAssertTrue(error is ImagingError, "\(error)")
            }
        }
        // Flipped bytes in the IDAT data break the CRC.
        var flipped = good
        for i in stride(from: 60, to: 80, by: 1) { flipped[i] ^= 0x5A }
        XCTAssertThrowsError(try PNG.decode(flipped))
        // Not a PNG at all.
        XCTAssertThrowsError(try PNG.decode(Array("GIF89a not a png".utf8))) { error in
            XCTAssertTrue("\(error)".contains("not a readable PNG"), "\(error)")
        }
    }

    func testReadErrorNamesTheFile() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("broken.png")
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: url)
        XCTAssertThrowsError(try PNG.read(url)) { error in
            XCTAssertTrue("\(error)".contains("broken.png"), "\(error)")
        }
        XCTAssertThrowsError(try PNG.read(directory.appendingPathComponent("missing.png")))
    }

    func testFailedWriteLeavesNoTemporaryFile() throws {
        let directory = try makeTemporaryDirectory()
        let image = PixelImage(width: 4, height: 4, channels: 3)
        // Missing directory: nothing can be created.
        XCTAssertThrowsError(try PNG.write(image, to: directory.appendingPathComponent("no/such/dir/x.png")))
        // Rename onto an existing directory fails after the temporary file was written: it must be removed.
        let blocker = directory.appendingPathComponent("taken.png")
        try FileManager.default.createDirectory(at: blocker.appendingPathComponent("inside"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try PNG.write(image, to: blocker))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["taken.png"])
    }
}
