import XCTest
import Imaging
import Tensor
@testable import Training

/// Loaders on tiny files written here: IDX (plain and gzipped), .npy, folders of PNGs, and the
/// errors a user gets for a bad path, an empty folder and mixed sizes.
final class DatasetTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forger-data-\(getpid())-\(name.hashValue)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func idxBytes(_ dims: [Int], _ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { out += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return out + body
    }

    func testIDXPlainAndGzipWithLabels() throws {
        let images = idxBytes([3, 2, 2], (0..<12).map { UInt8($0 * 20) })
        try Data(images).write(to: dir.appendingPathComponent("img"))
        try Data(idxBytes([3], [7, 1, 4])).write(to: dir.appendingPathComponent("lab"))
        let plain = try DatasetLoader.idx(images: dir.appendingPathComponent("img"), labels: dir.appendingPathComponent("lab"))
        XCTAssertEqual([plain.count, plain.channels, plain.height, plain.width], [3, 1, 2, 2])
        XCTAssertEqual(plain.labels, [7, 1, 4])
        let batch = plain.batch([1], range: (0, 1))
        assertClose(batch.data, [80, 100, 120, 140].map { Float($0) / 255 }, 1e-6)
        XCTAssertEqual(plain.batch([1], range: (0, 1), flip: [true]).data[0], 100 / 255, accuracy: 1e-6)

        // gzip via the system tool, then the same dataset back.
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gz.arguments = ["-k", dir.appendingPathComponent("img").path]
        try gz.run(); gz.waitUntilExit()
        let zipped = try DatasetLoader.idx(images: dir.appendingPathComponent("img.gz"))
        XCTAssertEqual(zipped.pixels, plain.pixels)
    }

    func testIDXErrorsNameTheProblem() throws {
        XCTAssertThrowsError(try DatasetLoader.idx(images: dir.appendingPathComponent("missing"))) {
            XCTAssertTrue("\($0)".contains("no such file"), "\($0)")
        }
        try Data(idxBytes([3, 2, 2], [1, 2, 3])).write(to: dir.appendingPathComponent("short"))
        XCTAssertThrowsError(try DatasetLoader.idx(images: dir.appendingPathComponent("short"))) {
            XCTAssertTrue("\($0)".contains("truncated"), "\($0)")
        }
        try Data(idxBytes([2, 1, 1], [1, 2])).write(to: dir.appendingPathComponent("img"))
        try Data(idxBytes([3], [0, 1, 2])).write(to: dir.appendingPathComponent("lab"))
        XCTAssertThrowsError(try DatasetLoader.idx(images: dir.appendingPathComponent("img"), labels: dir.appendingPathComponent("lab"))) {
            XCTAssertTrue("\($0)".contains("3 labels for 2 images"), "\($0)")
        }
    }

    func testNPYRangesAndShapes() throws {
        try NPY.write(Tensor(shape: [2, 1, 1, 2], data: [0, 1, 0.5, 0.25]), to: dir.appendingPathComponent("a.npy"))
        let a = try DatasetLoader.npy(dir.appendingPathComponent("a.npy"))
        XCTAssertEqual(a.pixels, [0, 255, 128, 64])
        try NPY.write(Tensor(shape: [1, 2], data: [0, 1]), to: dir.appendingPathComponent("b.npy"))
        XCTAssertThrowsError(try DatasetLoader.npy(dir.appendingPathComponent("b.npy"))) {
            XCTAssertTrue("\($0)".contains("(N, H, W) or (N, C, H, W)"), "\($0)")
        }
    }

    func testFolderLabelsResizeAndErrors() throws {
        let root = dir.appendingPathComponent("faces")
        for (i, (cls, size)) in [("bob", 4), ("ann", 4), ("ann", 8)].enumerated() {
            let sub = root.appendingPathComponent(cls)
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            var img = PixelImage(width: size, height: size, channels: 3, fill: 0)
            img.setPixel(x: 0, y: 0, RGB(255, 0, 0))
            try PNG.write(img, to: sub.appendingPathComponent("\(i).png"))
        }
        XCTAssertThrowsError(try DatasetLoader.folder(root)) { error in
            XCTAssertTrue("\(error)".contains("different sizes") && "\(error)".contains("--image-size"), "\(error)")
        }
        let set = try DatasetLoader.folder(root, size: 4)
        XCTAssertEqual([set.count, set.channels, set.height, set.width], [3, 3, 4, 4])
        XCTAssertEqual(set.classNames, ["ann", "bob"])
        XCTAssertEqual(set.labels, [0, 0, 1])
        let grey = try DatasetLoader.folder(root, size: 2, channels: 1)
        XCTAssertEqual(grey.channels, 1)

        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try DatasetLoader.folder(empty)) { XCTAssertTrue("\($0)".contains("holds no images"), "\($0)") }
        XCTAssertThrowsError(try DatasetLoader.folder(dir.appendingPathComponent("nope"))) { XCTAssertTrue("\($0)".contains("no such folder"), "\($0)") }
    }
}
