import XCTest
@testable import Imaging

final class GIFTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("gif-tests") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func testGreyRoundTripIsExact() throws {
        let frames = (0..<5).map { randomImage(width: 33, height: 17, channels: 1, seed: UInt64($0)) }
        let url = directory.appendingPathComponent("grey.gif")
        try GIF.write(frames: frames, fps: 20, to: url)
        let decoded = try GIF.read(url)
        XCTAssertEqual(decoded.frames.count, 5)
        for (i, (got, want)) in zip(decoded.frames, frames).enumerated() { assertSameImage(got, want, "gif-grey-\(i)") }
        XCTAssertEqual(decoded.delays, [5, 5, 5, 5, 5])
        XCTAssertEqual(decoded.loopCount, 0)
    }

    func testColourRoundTripPSNR() throws {
        let frames = (0..<6).map { gradientImage(width: 64, height: 48, phase: $0 * 20, seed: UInt64($0)) }
        // Measured on these frames (noise +-4 on gradients with a hard wrap in red): ordered
        // dither 28.9 dB, none 30.3 dB; the bounds keep a margin below that.
        for (dither, bound) in [(Dither.ordered, 28.0), (.none, 29.5)] {
            let url = directory.appendingPathComponent("colour.gif")
            try GIF.write(frames: frames, fps: 10, to: url, options: GIFOptions(dither: dither))
            let decoded = try GIF.read(url)
            XCTAssertEqual(decoded.frames.count, frames.count)
            let psnr = ImageMetrics.psnr(decoded.frames, frames)
            print("colour GIF round trip, dither \(dither): PSNR \(String(format: "%.2f", psnr)) dB")
            if psnr < bound {
                let look = writeForLook(expected: frames[0], actual: decoded.frames[0], name: "gif-colour")
                XCTFail("PSNR \(psnr) dB below \(bound) dB with dither \(dither); frame 0 written to \(look)")
            }
        }
    }

    func testFewColoursAreLossless() throws {
        var image = PixelImage(width: 10, height: 10, channels: 3, fill: 255)
        for i in 0..<10 { image.setPixel(x: i, y: i, RGB(200, 30, 40)); image.setPixel(x: 9 - i, y: i, RGB(1, 2, 3)) }
        let url = directory.appendingPathComponent("flat.gif")
        try GIF.write(frames: [image], fps: 10, to: url)
        assertSameImage(try GIF.read(url).frames[0], image, "gif-flat")
    }

    func testPerFramePaletteAndStreamingAutomatic() throws {
        let frames = (0..<4).map { gradientImage(width: 40, height: 30, phase: $0 * 60, seed: UInt64(10 + $0)) }
        // Per-frame palettes and an automatic palette sampled from all 4 frames fit well; one
        // sampled from the first 2 frames misses colours of the later ones (measured 23.6 dB).
        for (palette, sample, bound) in [(GIFPaletteMode.perFrame, 1, 30.0), (.automatic, 4, 29.0), (.automatic, 2, 20.0)] {
            let url = directory.appendingPathComponent("stream.gif")
            let writer = try GIFWriter(url: url, width: 40, height: 30, options: GIFOptions(palette: palette, dither: .none, paletteSampleFrames: sample))
            for frame in frames { try writer.add(frame) }
            try writer.finish()
            let decoded = try GIF.read(url)
            XCTAssertEqual(decoded.frames.count, 4)
            let psnr = ImageMetrics.psnr(decoded.frames, frames)
            print("streaming \(palette), sample \(sample): PSNR \(String(format: "%.2f", psnr)) dB")
            XCTAssertGreaterThan(psnr, bound, "\(palette) sample \(sample)")
        }
    }

    func testStreamingHoldsBoundedFrames() throws {
        // 60 distinct frames, palette sampled from the first 4: never more than 4 frames held.
        let url = directory.appendingPathComponent("long.gif")
        let writer = try GIFWriter(url: url, width: 16, height: 16, options: GIFOptions(framesPerSecond: 25, paletteSampleFrames: 4))
        var most = 0
        for i in 0..<60 {
            try writer.add(gradientImage(width: 16, height: 16, phase: i, seed: UInt64(i)))
            most = max(most, writer.framesHeld)
        }
        XCTAssertEqual(most, 3) // the 4th sample frame fixes the palette and flushes the buffer
        XCTAssertEqual(writer.framesHeld, 1) // only the pending frame after the palette is fixed
        try writer.finish()
        let decoded = try GIF.read(url)
        XCTAssertEqual(decoded.frames.count, 60)
        XCTAssertEqual(decoded.delays.reduce(0, +), 240) // 60 frames at 25 fps = 2.4 s
    }

    func testLoopCountAndDelaysReadBack() throws {
        let frames = (0..<3).map { PixelImage(width: 4, height: 4, channels: 1, fill: UInt8($0 * 50)) }
        let url = directory.appendingPathComponent("loop.gif")
        let writer = try GIFWriter(url: url, width: 4, height: 4, options: GIFOptions(framesPerSecond: 30, loopCount: 3))
        try writer.add(frames[0])
        try writer.add(frames[1], delay: 250)
        try writer.add(frames[2])
        try writer.finish()
        let decoded = try GIF.read(url)
        // 30 fps: frame 0 ends at 3.33 -> 3; +250 -> 253.33 -> 253; +3.33 -> 256.67 -> 257.
        XCTAssertEqual(decoded.delays, [3, 250, 4])
        XCTAssertEqual(decoded.loopCount, 3)

        let once = directory.appendingPathComponent("once.gif")
        try GIF.write(frames: frames, fps: 10, to: once, options: GIFOptions(loopCount: nil))
        XCTAssertNil(try GIF.read(once).loopCount)
    }

    func testHoldFramesBecomeLongerDelaysWithoutLosingTime() throws {
        let a = PixelImage(width: 8, height: 8, channels: 1, fill: 10)
        let b = PixelImage(width: 8, height: 8, channels: 1, fill: 200)
        let url = directory.appendingPathComponent("hold.gif")
        let writer = try GIFWriter(url: url, width: 8, height: 8, options: GIFOptions(framesPerSecond: 30))
        // a a a b (b held for 2 periods) a: 6 periods = 20 cs in total.
        for frame in [a, a, a] { try writer.add(frame) }
        try writer.add(b, holdFrames: 2)
        try writer.add(a)
        try writer.finish()
        XCTAssertEqual(writer.framesWritten, 3)
        let decoded = try GIF.read(url)
        XCTAssertEqual(decoded.frames, [a, b, a])
        XCTAssertEqual(decoded.delays, [10, 7, 3]) // ends at 10, 16.67 -> 17, 20
        XCTAssertEqual(decoded.delays.reduce(0, +), 20)
    }

    func testCorruptAndTruncatedGIFThrow() throws {
        let frames = (0..<3).map { randomImage(width: 20, height: 20, channels: 1, seed: UInt64(40 + $0)) }
        let url = directory.appendingPathComponent("good.gif")
        try GIF.write(frames: frames, fps: 10, to: url)
        let good = [UInt8](try Data(contentsOf: url))
        XCTAssertNoThrow(try GIF.decode(good))
        for cut in [0, 3, 6, 12, 400, 800, good.count / 2, good.count - 2] {
            XCTAssertThrowsError(try GIF.decode(Array(good.prefix(cut))), "truncated at \(cut)") { error in
                XCTAssertTrue(error is ImagingError, "\(error)")
            }
        }
        var garbage = good
        garbage[0] = UInt8(ascii: "X") // bad signature
        XCTAssertThrowsError(try GIF.decode(garbage))
        XCTAssertThrowsError(try GIF.decode(Array("\u{89}PNG not a gif".utf8)))
        let broken = directory.appendingPathComponent("broken.gif")
        try Data(good.prefix(good.count / 2)).write(to: broken)
        XCTAssertThrowsError(try GIF.read(broken)) { error in XCTAssertTrue("\(error)".contains("broken.gif"), "\(error)") }
    }

    func testUnfinishedOrFailedWriterLeavesNoFiles() throws {
        let url = directory.appendingPathComponent("abandoned.gif")
        do {
            let writer = try GIFWriter(url: url, width: 4, height: 4)
            try writer.add(PixelImage(width: 4, height: 4, channels: 1))
            try writer.add(PixelImage(width: 4, height: 4, channels: 1, fill: 9))
            // Wrong size: throws, and the writer cleans up.
            XCTAssertThrowsError(try writer.add(PixelImage(width: 5, height: 4, channels: 1)))
            XCTAssertThrowsError(try writer.finish())
        }
        do {
            let writer = try GIFWriter(url: url, width: 4, height: 4)
            try writer.add(PixelImage(width: 4, height: 4, channels: 1))
            try writer.add(PixelImage(width: 4, height: 4, channels: 1, fill: 9))
            _ = writer // released without finish()
        }
        XCTAssertThrowsError(try GIF.write(frames: [PixelImage(width: 4, height: 4, channels: 1)], fps: 10,
                                           to: directory.appendingPathComponent("missing/dir/x.gif")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    func testOptionsAreValidated() {
        let url = directory.appendingPathComponent("x.gif")
        XCTAssertThrowsError(try GIFWriter(url: url, width: 4, height: 4, options: GIFOptions(framesPerSecond: 0)))
        XCTAssertThrowsError(try GIFWriter(url: url, width: 4, height: 4, options: GIFOptions(framesPerSecond: 60)))
        XCTAssertThrowsError(try GIFWriter(url: url, width: 4, height: 4, options: GIFOptions(loopCount: 70000)))
        XCTAssertThrowsError(try GIFWriter(url: url, width: 0, height: 4))
    }

    func testDeterministicBytes() throws {
        let frames = (0..<3).map { gradientImage(width: 32, height: 32, phase: $0 * 30, seed: UInt64($0)) }
        let a = directory.appendingPathComponent("a.gif"), b = directory.appendingPathComponent("b.gif")
        try GIF.write(frames: frames, fps: 10, to: a)
        try GIF.write(frames: frames, fps: 10, to: b)
        XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b))
    }

    func testOrderedDitherIsStableAcrossFrames() throws {
        // Two frames identical in the left half: the decoded left halves must match exactly.
        let first = gradientImage(width: 32, height: 32, phase: 0, seed: 1)
        var second = first
        for y in 0..<32 { for x in 16..<32 { second.setPixel(x: x, y: y, RGB(255, 0, 255)) } }
        let url = directory.appendingPathComponent("stable.gif")
        try GIF.write(frames: [first, second], fps: 10, to: url, options: GIFOptions(dither: .ordered))
        let decoded = try GIF.read(url)
        for y in 0..<32 { for x in 0..<16 { XCTAssertEqual(decoded.frames[0].rgb(x: x, y: y), decoded.frames[1].rgb(x: x, y: y)) } }
    }
}
