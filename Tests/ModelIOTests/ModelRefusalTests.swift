import XCTest
import Tensor
import NN
@testable import ModelIO

/// One test per refusal of a malformed model, each checking that the message names the
/// file, the layer or tensor, and the shapes involved.
final class ModelRefusalTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forger-refusal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// linear(2 -> 4), reshape (1, 2, 2), conv2d 1 -> 1 k1, tanh.
    static func manifest(layers: [LayerSpec]? = nil) -> ModelManifest {
        ModelManifest(name: "tiny", latentSize: 2, outputChannels: 1, outputHeight: 2, outputWidth: 2,
                      layers: layers ?? [.linear(inFeatures: 2, outFeatures: 4, weight: "fc.weight", bias: "fc.bias"),
                                         .reshape([1, 2, 2]),
                                         .conv2d(ConvGeometry(inChannels: 1, outChannels: 1, kernel: 1), weight: "c.weight", bias: nil),
                                         .activation(.tanh)],
                      extra: ["notes": .string("kept")])
    }

    static func tensors(_ overrides: [String: TensorRecord] = [:]) -> [(name: String, record: TensorRecord)] {
        var t: [(String, TensorRecord)] = [
            ("fc.weight", TensorRecord(dtype: .f32, shape: [4, 2], values: (0..<8).map { Float($0) / 8 })),
            ("fc.bias", TensorRecord(dtype: .f32, shape: [4], values: [0, 0.1, 0.2, 0.3])),
            ("c.weight", TensorRecord(dtype: .f32, shape: [1, 1, 1, 1], values: [2])),
        ]
        for (k, v) in overrides { if let i = t.firstIndex(where: { $0.0 == k }) { t[i].1 = v } else { t.append((k, v)) } }
        return t
    }

    func model(_ name: String = "m", manifest: ModelManifest = manifest(),
               tensors: [(name: String, record: TensorRecord)] = tensors()) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try ModelStore.save(manifest, tensors: tensors, to: url)
        return url
    }

    func expectRefusal(_ url: URL, containing parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ModelStore.load(url), file: file, line: line) { error in
            let message = "\(error)"
            for part in parts {
                XCTAssertTrue(message.contains(part), "message lacks '\(part)': \(message)", file: file, line: line)
            }
        }
    }

    func weightsURL(_ url: URL) -> URL { url.appendingPathComponent("weights.safetensors") }

    /// Rewrites the safetensors header JSON, keeping the data section.
    func rewriteHeader(_ url: URL, _ edit: (String) -> String) throws {
        let data = try Data(contentsOf: weightsURL(url))
        let n = Int(data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = edit(String(decoding: data[8..<(8 + n)], as: UTF8.self))
        var out = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(data[(8 + n)...])
        try out.write(to: weightsURL(url))
    }

    func testGoodModelLoadsAndKeepsUnknownKeys() throws {
        let url = try model()
        let loaded = try ModelStore.load(url)
        XCTAssertEqual(loaded.manifest.extra["notes"], .string("kept"))
        XCTAssertEqual(loaded.manifest, Self.manifest())
        XCTAssertEqual(loaded.generator.outputShape, [1, 2, 2])
        // z = (1, 0): fc gives column 0 of the weight plus bias, conv doubles it, tanh.
        let y = loaded.generator.forward(Tensor(shape: [1, 2], data: [1, 0]))
        let want: [Float] = [0, 0.25, 0.5, 0.75].enumerated().map { i, w in tanh(2 * (w + [0, 0.1, 0.2, 0.3][i])) }
        for (a, b) in zip(y.data, want) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertEqual(loaded.weightsHash.count, 64)
    }

    func testHeaderLengthBeyondFile() throws {
        let url = try model()
        var data = try Data(contentsOf: weightsURL(url))
        data.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        try data.write(to: weightsURL(url))
        expectRefusal(url, containing: ["weights.safetensors", "header length 1099511627776 runs past the end"])
    }

    func testTruncatedWeightsFile() throws {
        let url = try model()
        try Data([1, 2, 3]).write(to: weightsURL(url))
        expectRefusal(url, containing: ["too short"])
    }

    func testBadHeaderJSON() throws {
        let url = try model()
        try rewriteHeader(url) { $0.replacingOccurrences(of: "{", with: "[", options: [], range: $0.range(of: "{")) }
        expectRefusal(url, containing: ["header is not valid JSON"])
    }

    func testOffsetsOutsideData() throws {
        let url = try model()
        try rewriteHeader(url) { $0.replacingOccurrences(of: "[32,48]", with: "[32,4800]") }
        expectRefusal(url, containing: ["fc.bias", "lie outside the 52-byte data section"])
    }

    func testOverlappingTensors() throws {
        let url = try model()
        // c.weight (4 bytes at 48..52) moved onto fc.bias's last float.
        try rewriteHeader(url) { $0.replacingOccurrences(of: "[48,52]", with: "[44,48]") }
        expectRefusal(url, containing: ["overlap", "fc.bias", "c.weight"])
    }

    func testByteCountDoesNotMatchDtypeAndShape() throws {
        let url = try model()
        try rewriteHeader(url) { $0.replacingOccurrences(of: "\"shape\":[4]", with: "\"shape\":[5]") }
        expectRefusal(url, containing: ["fc.bias", "F32 [5] needs 20 bytes, data_offsets give 16"])
    }

    func testMissingTensorIsNamed() throws {
        let url = try model(tensors: Self.tensors().filter { $0.name != "c.weight" })
        expectRefusal(url, containing: ["layer 2 (conv2d)", "'c.weight'", "does not have"])
    }

    func testWrongTensorShapeNamesBothShapes() throws {
        let url = try model(tensors: Self.tensors(["fc.weight": TensorRecord(dtype: .f32, shape: [2, 4], values: .init(repeating: 0, count: 8))]))
        expectRefusal(url, containing: ["layer 0 (linear)", "'fc.weight'", "shape (2, 4), expected (4, 2)"])
    }

    func testNaNWeightsAreRefused() throws {
        let url = try model(tensors: Self.tensors(["fc.bias": TensorRecord(dtype: .f32, shape: [4], values: [0, .nan, 0, 0])]))
        expectRefusal(url, containing: ["'fc.bias'", "NaN or infinite", "element 1"])
    }

    func testInfiniteWeightsAreRefused() throws {
        let url = try model(tensors: Self.tensors(["c.weight": TensorRecord(dtype: .f32, shape: [1, 1, 1, 1], values: [.infinity])]))
        expectRefusal(url, containing: ["'c.weight'", "NaN or infinite"])
    }

    func testUnknownLayerType() throws {
        let url = try model()
        let path = url.appendingPathComponent("model.json")
        let text = try String(contentsOf: path, encoding: .utf8).replacingOccurrences(of: "\"tanh\"", with: "\"swish\"")
        try text.write(to: path, atomically: true, encoding: .utf8)
        expectRefusal(url, containing: ["layer 3 has unknown type \"swish\"", "known types"])
    }

    func testUnknownFormatVersion() throws {
        let url = try model()
        let path = url.appendingPathComponent("model.json")
        let text = try String(contentsOf: path, encoding: .utf8).replacingOccurrences(of: "\"version\": 1", with: "\"version\": 7")
        try text.write(to: path, atomically: true, encoding: .utf8)
        expectRefusal(url, containing: ["model.json", "unsupported version 7"])
    }

    func testBadManifestJSON() throws {
        let url = try model()
        try "{\"format\": ".write(to: url.appendingPathComponent("model.json"), atomically: true, encoding: .utf8)
        expectRefusal(url, containing: ["model.json", "not valid JSON"])
    }

    func testWrongChannelCountBetweenLayers() throws {
        var layers = Self.manifest().layers
        layers[2] = .conv2d(ConvGeometry(inChannels: 3, outChannels: 1, kernel: 1), weight: "c.weight", bias: nil)
        let url = try model(manifest: Self.manifest(layers: layers),
                            tensors: Self.tensors(["c.weight": TensorRecord(dtype: .f32, shape: [1, 3, 1, 1], values: [1, 1, 1])]))
        expectRefusal(url, containing: ["layer 2 (conv2d) expects input (3, H, W) but the previous stage gives (1, 2, 2)"])
    }

    func testReshapeThatDoesNotMatch() throws {
        var layers = Self.manifest().layers
        layers[1] = .reshape([1, 3, 3])
        let url = try model(manifest: Self.manifest(layers: layers))
        expectRefusal(url, containing: ["layer 1 (reshape)", "9 values to fill [1, 3, 3]", "(4)"])
    }

    func testDeclaredOutputMustMatchLayers() throws {
        var m = Self.manifest()
        m.outputHeight = 3
        let url = try model(manifest: m)
        expectRefusal(url, containing: ["'output' declares (1, 3, 2) but the layers produce (1, 2, 2)"])
    }

    func testIntegerTensorReferencedByALayer() throws {
        let url = try model()
        try rewriteHeader(url) { $0.replacingOccurrences(of: "\"dtype\":\"F32\",\"shape\":[1,1,1,1]", with: "\"dtype\":\"I32\",\"shape\":[1,1,1,1]") }
        expectRefusal(url, containing: ["'c.weight' is I32"])
    }

    func testHalfAndBFloat16AreConverted() throws {
        // 1.5 as F16 is 0x3E00; 1.5 as BF16 is 0x3FC0.
        var data = Data()
        let header = #"{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}"#
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        data.append(contentsOf: [0x00, 0x3E, 0xC0, 0x3F])
        let t = try SafeTensors.decode(data, path: "mem")
        XCTAssertEqual(t.map(\.name), ["a", "b"])
        XCTAssertEqual(t[0].record.values, [1.5])
        XCTAssertEqual(t[1].record.values, [1.5])
    }

    func testSaveIsAtomicAndLeavesNothingOnFailure() throws {
        let missing = dir.appendingPathComponent("no/such/model")
        XCTAssertThrowsError(try ModelStore.save(Self.manifest(), tensors: Self.tensors(), to: missing))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testSHA256KnownAnswers() {
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        // Fed in uneven pieces, the same digest as in one piece.
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var pieces = SHA256()
        var start = 0
        for size in [1, 63, 64, 65, 3, 200, 604] { pieces.update(bytes[start..<(start + size)]); start += size }
        XCTAssertEqual(pieces.finalize(), { var one = SHA256(); one.update(bytes); return one.finalize() }())
    }

    /// The SHA-extension path (where the CPU has it) and the portable one agree on every length
    /// around the block and padding boundaries, and on a megabyte; both match a known answer.
    func testSHA256HardwareAndPortableAgree() throws {
        func digest(_ bytes: [UInt8], hardware: Bool) -> [UInt8] {
            var s = SHA256(hardware: hardware)
            s.update(bytes)
            return s.finalize()
        }
        var lengths = Array(0...200) + [447, 448, 511, 512, 513, 4095, 4096, 4097]
        lengths.append(1 << 20)
        for n in lengths {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 8)) }
            XCTAssertEqual(digest(bytes, hardware: true), digest(bytes, hardware: false), "\(n) bytes")
        }
        // FIPS 180-4 example: two blocks once padded.
        var s = SHA256(hardware: false)
        s.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(s.finalize().map { String(format: "%02x", $0) }.joined(),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        if !SHA256.hardwareAvailable { throw XCTSkip("this CPU has no SHA extensions; only the portable path ran") }
    }
}
