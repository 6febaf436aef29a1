import Foundation
import XCTest
@testable import ModelIO

/// Safetensors files the reference implementation (huggingface/safetensors,
/// `SafeTensors::read_metadata` and `Metadata::validate`) refuses, which Forger's reader used
/// to accept: duplicate keys, tensors not back to back from offset 0 (InvalidOffset), a data
/// section longer than its tensors (MetadataIncompleteBuffer), a `__metadata__` that is not a
/// map of strings. Before the fix every case below but the controls decoded without error.
final class HostileSafeTensorsTests: XCTestCase {
    /// A file with `header` (JSON text) and `dataBytes` bytes of float32 data (1, 2, 3, ...).
    func file(_ header: String, dataBytes: Int) -> Data {
        var out = Data()
        let h = Array(header.utf8)
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: h)
        for i in 0..<(dataBytes / 4) { withUnsafeBytes(of: Float(i + 1).bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        out.append(contentsOf: [UInt8](repeating: 0, count: dataBytes % 4))
        return out
    }

    func expectRefusal(_ data: Data, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensors.decode(data, path: "w.safetensors"), file: file, line: line) { error in
            let text = "\(error)"
            for f in fragments { XCTAssertTrue(text.contains(f), "message lacks '\(f)': \(text)", file: file, line: line) }
        }
    }

    func entry(_ begin: Int, _ end: Int, shape: Int? = nil) -> String {
        "{\"dtype\":\"F32\",\"shape\":[\(shape ?? (end - begin) / 4)],\"data_offsets\":[\(begin),\(end)]}"
    }

    func testValidFilesStillRead() throws {
        let t = try SafeTensors.decode(file("{\"__metadata__\":{\"format\":\"pt\"},\"b\":\(entry(4, 8)),\"a\":\(entry(0, 4)),\"z\":\(entry(8, 8))}  ", dataBytes: 8), path: "w")
        XCTAssertEqual(t.map(\.name), ["a", "b", "z"])
        XCTAssertEqual(t[1].record.values, [2])
        XCTAssertEqual(try SafeTensors.decode(file("{}", dataBytes: 0), path: "w").count, 0)
    }

    func testDuplicateTensorKeyIsRefused() {
        expectRefusal(file("{\"a\":\(entry(0, 4)),\"a\":\(entry(4, 8))}", dataBytes: 8), ["repeats the key \"a\"", "at byte 62"])
    }

    func testDuplicateFieldInsideAnEntryIsRefused() {
        expectRefusal(file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", dataBytes: 4),
                      ["repeats the key \"dtype\""])
        // The same key spelled with an escape is the same key.
        expectRefusal(file("{\"a\":\(entry(0, 4)),\"\\u0061\":\(entry(4, 8))}", dataBytes: 8), ["repeats the key \"a\""])
    }

    func testDataLongerThanTheTensorsIsRefused() {
        expectRefusal(file("{\"a\":\(entry(0, 4))}", dataBytes: 12), ["data section is 12 bytes", "cover only 4", "8 bytes belong to no tensor"])
    }

    func testGapsAndOverlapsAreRefused() {
        expectRefusal(file("{\"a\":\(entry(0, 4)),\"b\":\(entry(8, 12))}", dataBytes: 12),
                      ["tensor 'b'", "start at 8", "'a' ends at 4", "without gaps"])
        expectRefusal(file("{\"a\":\(entry(4, 8))}", dataBytes: 8), ["tensor 'a'", "the data section starts at 0"])
        expectRefusal(file("{\"a\":\(entry(0, 8)),\"b\":\(entry(4, 8))}", dataBytes: 8), ["tensor 'b'", "without overlaps"])
    }

    func testMetadataMustMapToStrings() {
        expectRefusal(file("{\"__metadata__\":{\"epoch\":3},\"a\":\(entry(0, 4))}", dataBytes: 4), ["\"__metadata__\" must map names to strings"])
        expectRefusal(file("{\"__metadata__\":[],\"a\":\(entry(0, 4))}", dataBytes: 4), ["\"__metadata__\""])
    }

    func testHeaderMustStartWithABrace() {
        expectRefusal(file(" {\"a\":\(entry(0, 4))}", dataBytes: 4), ["starting with '{' at byte 8"])
    }

    /// JSONDecoder stops at 512 levels, so nesting cannot exhaust the stack of JSONValue's
    /// recursive decoding (checked here for the safetensors header and model.json).
    func testDeeplyNestedJSONIsRefused() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        expectRefusal(file("{\"a\":\(deep)}", dataBytes: 0), ["header is not valid JSON"])
        XCTAssertThrowsError(try ModelManifest.parse(Data("{\"format\":\(deep)}".utf8), path: "model.json"))
    }

    func testDuplicateKeyScannerIgnoresArraysAndValues() {
        let ok = Array("{\"a\":[\"a\",\"a\"],\"b\":{\"a\":\"b\"},\"c\":\"a\"}".utf8)
        XCTAssertNil(JSONValue.firstDuplicateKey(in: ok))
        let nested = Array("{\"a\":[{\"x\":1,\"x\":2}]}".utf8)
        XCTAssertEqual(JSONValue.firstDuplicateKey(in: nested)?.key, "x")
        XCTAssertEqual(JSONValue.firstDuplicateKey(in: Array("{\"k\\\"\":1,\"k\\\"\":2}".utf8))?.key, "k\"")
    }
}
