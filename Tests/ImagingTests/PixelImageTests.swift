import XCTest
@testable import Imaging

final class PixelImageTests: XCTestCase {
    func testFromFloatsEdgesMinusOneToOne() throws {
        // v = round((x + 1) / 2 * 255), half away from zero, clamped; NaN -> 0.
        let values: [Float] = [-1, 0, 1, -2, 2, .nan, .infinity, -.infinity, 0.5, -0.999]
        let image = try PixelImage.fromFloats(values, channels: 1, height: 1, width: values.count, range: (-1, 1))
        // 0.5 -> 0.75*255 = 191.25 -> 191; -0.999 -> 0.0005*255 = 0.1275 -> 0.
        XCTAssertEqual(image.pixels, [0, 128, 255, 0, 255, 0, 255, 0, 191, 0])
    }

    func testFromFloatsZeroToOne() throws {
        let values: [Float] = [0, 1, 0.5, 1.0 / 255, 0.4 / 255, 0.6 / 255]
        let image = try PixelImage.fromFloats(values, channels: 1, height: 1, width: values.count, range: (0, 1))
        XCTAssertEqual(image.pixels, [0, 255, 128, 1, 0, 1])
    }

    func testFromFloatsPlanarToInterleaved() throws {
        // CHW: R plane, G plane, B plane for a 2x1 image.
        let values: [Float] = [-1, 1, /* G */ 1, -1, /* B */ 0, 0]
        let image = try PixelImage.fromFloats(values, channels: 3, height: 1, width: 2)
        XCTAssertEqual(image.pixels, [0, 255, 128, 255, 0, 128])
    }

    func testFromFloatsRejectsBadInput() {
        XCTAssertThrowsError(try PixelImage.fromFloats([0, 0], channels: 2, height: 1, width: 1))
        XCTAssertThrowsError(try PixelImage.fromFloats([0, 0, 0], channels: 1, height: 1, width: 2))
        XCTAssertThrowsError(try PixelImage.fromFloats([0], channels: 1, height: 1, width: 1, range: (1, 1)))
    }

    func testToFloatsRoundTripsEveryByte() throws {
        var image = PixelImage(width: 256, height: 1, channels: 1)
        for i in 0..<256 { image.pixels[i] = UInt8(i) }
        for range: (Float, Float) in [(-1, 1), (0, 1)] {
            let floats = image.toFloats(range: range)
            XCTAssertEqual(floats[0], range.0)
            XCTAssertEqual(floats[255], range.1, accuracy: 1e-6)
            let back = try PixelImage.fromFloats(floats, channels: 1, height: 1, width: 256, range: range)
            XCTAssertEqual(back, image)
        }
    }

    func testToFloatsIsPlanar() {
        var image = PixelImage(width: 2, height: 1, channels: 3)
        image.pixels = [0, 255, 0, 255, 0, 255]
        XCTAssertEqual(image.toFloats(range: (0, 1)), [0, 1, 1, 0, 0, 1])
    }

    func testUpscaledNearest() {
        var image = PixelImage(width: 2, height: 1, channels: 1)
        image.pixels = [10, 20]
        let big = image.upscaled(by: 3)
        XCTAssertEqual(big.width, 6)
        XCTAssertEqual(big.height, 3)
        XCTAssertEqual(big.pixels, [UInt8](repeating: 0, count: 3).flatMap { _ in [10, 10, 10, 20, 20, 20] as [UInt8] })
    }

    func testResizeAveragesOnDownscaleAndKeepsConstant() {
        // 4x1 -> 2x1 averages pairs (area-like): (0,100) -> 50, (200, 255) -> 228.
        var image = PixelImage(width: 4, height: 1, channels: 1)
        image.pixels = [0, 100, 200, 255]
        let small = image.resized(width: 2, height: 1)
        XCTAssertEqual(small.pixels.count, 2)
        XCTAssertEqual(small.pixels, [50, 228])
        // 3 -> 2: footprints [0, 1.5) and [1.5, 3): (0 + 0.5 * 90) / 1.5 = 30, (0.5 * 90 + 180) / 1.5 = 150.
        var three = PixelImage(width: 3, height: 1, channels: 1)
        three.pixels = [0, 90, 180]
        XCTAssertEqual(three.resized(width: 2, height: 1).pixels, [30, 150])
        // A constant image stays constant at any size.
        let flat = PixelImage(width: 7, height: 5, channels: 3, fill: 77)
        XCTAssertEqual(flat.resized(width: 3, height: 11), PixelImage(width: 3, height: 11, channels: 3, fill: 77))
    }

    func testResizeUpscaleIsBilinear() {
        // 2x1 -> 4x1 with aligned centres: positions -0.25, 0.25, 0.75, 1.25 -> 0, 25, 75, 100.
        var image = PixelImage(width: 2, height: 1, channels: 1)
        image.pixels = [0, 100]
        XCTAssertEqual(image.resized(width: 4, height: 1).pixels, [0, 25, 75, 100])
    }

    func testStrideIgnoredByEquality() throws {
        let padded = try PixelImage(width: 2, height: 2, channels: 1, stride: 3, pixels: [1, 2, 99, 3, 4, 98])
        let packed = try PixelImage(width: 2, height: 2, channels: 1, pixels: [1, 2, 3, 4])
        XCTAssertEqual(padded, packed)
        XCTAssertEqual(padded.packed().pixels, [1, 2, 3, 4])
        XCTAssertThrowsError(try PixelImage(width: 2, height: 2, channels: 1, stride: 1, pixels: [1, 2, 3, 4]))
    }

    func testChannelConversion() {
        var rgb = PixelImage(width: 1, height: 1, channels: 3)
        rgb.pixels = [255, 0, 0]
        XCTAssertEqual(rgb.converted(toChannels: 1).pixels, [76]) // round(0.299 * 255) = 76
        var rgba = PixelImage(width: 1, height: 1, channels: 4)
        rgba.pixels = [0, 0, 0, 0] // fully transparent black over white -> white
        XCTAssertEqual(rgba.removingAlpha(over: .white).pixels, [255, 255, 255])
    }
}
