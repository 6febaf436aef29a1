import XCTest
import Tensor
@testable import Latent

final class FileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("latent-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func sampleFile() -> LatentFile {
        LatentFile(model: "mnist-dcgan", size: 4, latents: [
            .init(name: "seven", vector: [0.1, -2.5, 3.25e-7, 1e10]),
            .init(name: "smiling", vector: [1, 2, 3, 4], labels: ["smile": true, "glasses": false]),
        ])
    }

    func testLatentFileRoundTripIsPrettyAndSorted() throws {
        let url = directory.appendingPathComponent("z.json")
        let file = sampleFile()
        try file.write(to: url)
        let back = try LatentFile.read(url)
        XCTAssertEqual(back.model, "mnist-dcgan")
        XCTAssertEqual(back.size, 4)
        XCTAssertEqual(back.latents.map(\.name), ["seven", "smiling"])
        XCTAssertEqual(back.latents[1].labels, ["smile": true, "glasses": false])
        XCTAssertNil(back.latents[0].labels)
        for (x, y) in zip(back.latents, file.latents) {
            for (p, q) in zip(x.vector, y.vector) { assertClose(p, q, tolerance: abs(q) * 1e-7) }
        }
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(text.contains("\n"))
        XCTAssertTrue(text.contains("\"forger-latents\""))
        let keys = ["\"format\"", "\"latents\"", "\"model\"", "\"size\"", "\"version\""]
        let positions = keys.map { text.range(of: $0)!.lowerBound }
        XCTAssertEqual(positions, positions.sorted())
    }

    func testHandEditedFileIsReadAndCheckedForSize() throws {
        let url = directory.appendingPathComponent("hand.json")
        let text = """
        {"format": "forger-latents", "version": 1, "size": 3,
         "latents": [{"name": "a", "vector": [1, 2, 3]}, {"name": "b", "vector": [0, 0.5, -1]}]}
        """
        try text.write(to: url, atomically: true, encoding: .utf8)
        let named = try LatentIO.load(url, expectedSize: 3)
        XCTAssertEqual(named.map(\.name), ["a", "b"])
        assertClose(named[1].vector, [0, 0.5, -1], tolerance: 0)
        XCTAssertThrowsError(try LatentIO.load(url, expectedSize: 100)) { error in
            XCTAssertEqual(error as? LatentError, .sizeMismatch(file: url.path, fileSize: 3, modelSize: 100))
            let message = "\(error)"
            XCTAssertTrue(message.contains(url.path) && message.contains("size 3") && message.contains("size 100"), message)
        }
    }

    func testMalformedFilesAreRejectedWithReasons() throws {
        func check(_ json: String, mentions: String) throws {
            let url = directory.appendingPathComponent("bad.json")
            try json.write(to: url, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try LatentFile.read(url)) { error in
                XCTAssertTrue("\(error)".contains(mentions), "\(error)")
                XCTAssertTrue("\(error)".contains(url.path))
            }
        }
        try check(#"{"format": "forger-latents", "version": 1, "size": 3, "latents": [{"name": "a", "vector": [1, 2]}]}"#,
                  mentions: "has 2 values")
        try check(#"{"format": "other", "version": 1, "size": 1, "latents": []}"#, mentions: "expected \"forger-latents\"")
        try check(#"{"format": "forger-latents", "version": 2, "size": 1, "latents": []}"#, mentions: "version 2")
        try check(#"{"format": "forger-latents", "version": 1, "latents": []}"#, mentions: "missing key \"size\"")
        try check(#"{"format": "forger-latents", "version": 1, "size": 1, "latents": [{"name": "a", "vector": [1]}, {"name": "a", "vector": [2]}]}"#,
                  mentions: "used twice")
    }

    func testNPYRoundTripAndSizeCheck() throws {
        let url = directory.appendingPathComponent("z.npy")
        let rows = LatentSampler.batch(seed: 3, count: 5, size: 8)
        try LatentIO.writeNPY(rows, to: url)
        let back = try LatentIO.readNPY(url)
        XCTAssertEqual(back.count, 5)
        for (x, y) in zip(back, rows) { assertClose(x, y, tolerance: 0) }
        XCTAssertEqual(try NPY.read(url).shape, [5, 8])
        let named = try LatentIO.load(url, expectedSize: 8)
        XCTAssertEqual(named[2].name, url.relativePath + "#2")
        XCTAssertThrowsError(try LatentIO.load(url, expectedSize: 100)) { error in
            XCTAssertEqual(error as? LatentError, .sizeMismatch(file: url.path, fileSize: 8, modelSize: 100))
        }
    }

    func testSourceParsing() throws {
        XCTAssertEqual(try LatentSource.parse("seed:42"), .seed(42))
        XCTAssertEqual(try LatentSource.parse("seed:3..7"), .seeds(3...7))
        XCTAssertEqual(try LatentSource.parse("faces.json"), .json(path: "faces.json", name: nil))
        XCTAssertEqual(try LatentSource.parse("dir/faces.json#smile"), .json(path: "dir/faces.json", name: "smile"))
        XCTAssertEqual(try LatentSource.parse("z.npy"), .npy(path: "z.npy", row: nil))
        XCTAssertEqual(try LatentSource.parse("z.npy#3"), .npy(path: "z.npy", row: 3))
        for bad in ["seed:", "seed:x", "seed:1..", "faces.txt", "z.npy#", "hello", ".json"] {
            XCTAssertThrowsError(try LatentSource.parse(bad), bad) { error in
                XCTAssertTrue("\(error)".contains("seed:N, seed:N..M, FILE.json, FILE.json#NAME, FILE.npy, FILE.npy#ROW"),
                              "\(bad): \(error)")
            }
        }
        XCTAssertThrowsError(try LatentSource.parse("seed:7..3"))
        XCTAssertThrowsError(try LatentSource.parse("z.npy#first"))
    }

    func testSourceResolution() throws {
        let range = try LatentSource.parse("seed:10..12").resolve(size: 6)
        XCTAssertEqual(range.map(\.name), ["seed:10", "seed:11", "seed:12"])
        let batch = LatentSampler.batch(seed: 10, count: 3, size: 6)
        for (x, y) in zip(range, batch) { assertClose(x.vector, y, tolerance: 0) }

        try sampleFile().write(to: directory.appendingPathComponent("z.json"))
        let smiling = try LatentSource.parse("z.json#smiling").resolve(size: 4, directory: directory)
        assertClose(smiling[0].vector, [1, 2, 3, 4], tolerance: 0)
        XCTAssertEqual(try LatentSource.parse("z.json").resolve(size: 4, directory: directory).count, 2)
        XCTAssertThrowsError(try LatentSource.parse("z.json#frown").resolve(size: 4, directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("seven, smiling"), "\(error)")
        }

        try LatentIO.writeNPY(batch, to: directory.appendingPathComponent("b.npy"))
        let row = try LatentSource.parse("b.npy#1").resolve(size: 6, directory: directory)
        assertClose(row[0].vector, batch[1], tolerance: 0)
        XCTAssertThrowsError(try LatentSource.parse("b.npy#3").resolve(size: 6, directory: directory))
        XCTAssertThrowsError(try LatentSource.parse("b.npy").resolve(size: 7, directory: directory))
    }

    func entry(size: Int = 3, hash: String = "abc123") -> VectorLibrary.Entry {
        VectorLibrary.Entry(model: "celeba-dcgan", modelHash: hash, vector: [Float](repeating: 0.5, count: size),
                            method: .biasCorrected, sources: ["labels.json"])
    }

    func testVectorLibrary() throws {
        var library = VectorLibrary()
        try library.add("smile", entry())
        XCTAssertThrowsError(try library.add("smile", entry()))
        XCTAssertThrowsError(try library.add("two words", entry()))
        XCTAssertThrowsError(try library.add("mean", entry()))
        try library.replace("smile", entry(hash: "abc123"))
        try library.add("glasses", VectorLibrary.Entry(model: "celeba-dcgan", modelHash: "abc123", vector: [1, 0, -1],
                                                       method: .meanDifference, sources: ["a.json", "b.json"]))
        let url = directory.appendingPathComponent("vectors.json")
        try library.write(to: url)
        let back = try VectorLibrary.read(url)
        XCTAssertEqual(back.vectors.keys.sorted(), ["glasses", "smile"])
        assertClose(try back.vector("glasses", modelHash: "abc123", size: 3), [1, 0, -1], tolerance: 0)
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(text.contains("\"bias-corrected\"") && text.contains("\"mean-difference\"")
                      && text.contains("\"forger-vectors\"") && text.contains("\"modelHash\""))
        XCTAssertThrowsError(try back.lookup("frown")) { XCTAssertTrue("\($0)".contains("glasses, smile")) }
        XCTAssertEqual(try VectorLibrary.readOrEmpty(directory.appendingPathComponent("none.json")).vectors.count, 0)
    }

    func testVectorForAnotherModelIsRefused() throws {
        var library = VectorLibrary()
        try library.add("smile", entry())
        XCTAssertThrowsError(try library.vector("smile", modelHash: "fff999", size: 3)) { error in
            guard case .modelMismatch(let message)? = error as? LatentError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("celeba-dcgan") && message.contains("abc123") && message.contains("fff999"), message)
        }
        XCTAssertThrowsError(try library.vector("smile", modelHash: "abc123", size: 100)) { error in
            XCTAssertTrue("\(error)".contains("latent size 3") && "\(error)".contains("100"), "\(error)")
        }
    }
}
