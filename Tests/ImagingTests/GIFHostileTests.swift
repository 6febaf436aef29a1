import Foundation
import XCTest
@testable import Imaging

/// GIFs that crashed the reader or made it allocate far more than the file holds. The first
/// was found by `Tools/fuzz.sh gif` (Fuzz/crashes/gif/disposal-off-screen-frame.gif): a frame
/// placed below the screen with disposal "restore to background" trapped on an empty range.
final class GIFHostileTests: XCTestCase {
    /// A GIF89a with a `width`x`height` screen, a two-colour global table and `frames` image
    /// descriptors of `frameWidth`x`frameHeight` at (left, top), each with a tiny LZW stream;
    /// `disposal` goes into a graphics control extension before each frame.
    func gif(width: Int, height: Int, frames: Int = 1, frameWidth: Int = 1, frameHeight: Int = 1,
             left: Int = 0, top: Int = 0, disposal: UInt8? = nil) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        var out = Array("GIF89a".utf8) + u16(width) + u16(height) + [0x80, 0, 0] + [0, 0, 0, 255, 255, 255]
        for _ in 0..<frames {
            if let d = disposal { out += [0x21, 0xF9, 4, d << 2, 0, 0, 0, 0] }
            out += [0x2C] + u16(left) + u16(top) + u16(frameWidth) + u16(frameHeight) + [0]
            out += [2, 2, 0x44, 0x01, 0]
        }
        return out + [0x3B]
    }

    /// The second input (`timeout-wide-screen-frames.gif`, 328 bytes: frames on a 65527x231
    /// screen) passed libFuzzer's 10 s in the sanitized build while every pixel went through
    /// `setPixel`; the canvas is now filled a row at a time and frames are clipped first.
    func testTheFuzzedInputsAreRefusedOrDecoded() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/crashes/gif")
        for name in ["disposal-off-screen-frame.gif", "timeout-wide-screen-frames.gif"] {
            _ = try? GIF.decode([UInt8](try Data(contentsOf: folder.appendingPathComponent(name))))
        }
    }

    func testBackgroundFillAndFramesLandOnTheRightPixels() throws {
        // A white background (index 1); each frame paints (1, 1) with index 0, black.
        var bytes = gif(width: 3, height: 3, frames: 2, left: 1, top: 1, disposal: 2)
        bytes[11] = 1  // background colour index 1 (white)
        let decoded = try GIF.decode(bytes)
        XCTAssertEqual(decoded.frames.count, 2)
        XCTAssertEqual(decoded.frames[0].pixels, [255, 255, 255, 255, 0, 255, 255, 255, 255])
        XCTAssertEqual(decoded.frames[1].pixels, decoded.frames[0].pixels)
    }

    func testFramesOffTheScreenWithBackgroundDisposal() throws {
        let below = try GIF.decode(gif(width: 4, height: 4, frames: 2, top: 9, disposal: 2))
        XCTAssertEqual(below.frames.count, 2)
        let right = try GIF.decode(gif(width: 4, height: 4, frames: 2, left: 7, disposal: 2))
        XCTAssertEqual(right.frames.count, 2)
    }

    func testHugeFramesAreRefusedBeforeDecoding() {
        XCTAssertThrowsError(try GIF.decode(gif(width: 8, height: 8, frameWidth: 65_535, frameHeight: 65_535))) { error in
            XCTAssertTrue("\(error)".contains("frame is 65535x65535, over the limit"), "\(error)")
        }
    }

    func testManyFramesOfALargeScreenAreRefused() {
        // 12 frames of a 8192x8192 screen would decode to 12 x 192 MB of RGB.
        XCTAssertThrowsError(try GIF.decode(gif(width: 8192, height: 8192, frames: 12))) { error in
            XCTAssertTrue("\(error)".contains("decode to more than"), "\(error)")
        }
        XCTAssertNoThrow(try GIF.decode(gif(width: 64, height: 64, frames: 12)))
    }
}
