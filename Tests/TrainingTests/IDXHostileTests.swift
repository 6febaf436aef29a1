import Foundation
import XCTest
@testable import Training

/// IDX headers that crashed or could exhaust memory before the fix: dimensions whose product
/// overflows Int (a trap in `readIDX`, found by `Tools/fuzz.sh idx`; the input is
/// Fuzz/crashes/idx/dimension-product-overflow), images of zero width (a precondition in
/// ImageDataset), and gzip data that decompress without bound.
extension DatasetTests {
    func writeIDX(_ bytes: [UInt8], gzip: Bool = false) throws -> URL {
        let url = dir.appendingPathComponent("f-idx3-ubyte")
        try Data(bytes).write(to: url)
        guard gzip else { return url }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-f", url.path]
        try p.run(); p.waitUntilExit()
        return URL(fileURLWithPath: url.path + ".gz")
    }

    func expectIDXRefusal(_ url: URL, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DatasetLoader.idx(images: url), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "message lacks '\(fragment)': \(error)", file: file, line: line)
        }
    }

    func testIDXOverflowingDimensionsAreRefused() throws {
        expectIDXRefusal(try writeIDX(idxBytes([0x0074_0000, 0x0300_0000, 0x6360_E060], [1, 2, 3])), "more than Forger's limit of 2147483648 bytes")
        expectIDXRefusal(try writeIDX(idxBytes([60_000, 60_000, 60_000], [])), "more than Forger's limit of 2147483648 bytes")
        let fuzzed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/crashes/idx/dimension-product-overflow")
        expectIDXRefusal(try writeIDX([UInt8](try Data(contentsOf: fuzzed))), "more than Forger's limit of 2147483648 bytes")
    }

    func testIDXEmptyImagesAndOddChannelsAreRefused() throws {
        expectIDXRefusal(try writeIDX(idxBytes([2, 0, 5], [])), "images of 0x5 pixels")
        expectIDXRefusal(try writeIDX(idxBytes([1, 2, 2, 2], [UInt8](repeating: 9, count: 8))), "declares 2 channels")
        XCTAssertEqual(try DatasetLoader.idx(images: try writeIDX(idxBytes([1, 2, 2, 3], [UInt8](repeating: 9, count: 12)))).channels, 3)
    }

    func testIDXGzipDataAreBoundedByTheHeader() throws {
        // The header declares 2 images of 2x2, the stream holds 4 MB more: decompression stops
        // one chunk past the declared size instead of inflating everything.
        let url = try writeIDX(idxBytes([2, 2, 2], [UInt8](repeating: 0, count: 4 << 20)), gzip: true)
        expectIDXRefusal(url, "decompress to more than the IDX header declares")
        // Gzipped data that are not IDX stop at once and are named as such.
        expectIDXRefusal(try writeIDX([UInt8](repeating: 0x41, count: 4 << 20), gzip: true), "not an IDX file")
        // The same header with its 8 bytes reads.
        XCTAssertEqual(try DatasetLoader.idx(images: try writeIDX(idxBytes([2, 2, 2], [UInt8](repeating: 7, count: 8)), gzip: true)).count, 2)
    }
}
