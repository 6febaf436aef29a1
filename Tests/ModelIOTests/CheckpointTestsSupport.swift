import Foundation
import XCTest
import ModelIO
import CZlib

/// Expected tensors, written by Tools/make_checkpoint_fixtures.py from torch 1.13.
struct ExpectedCheckpoint: Decodable {
    struct Tensor: Decodable {
        var name: String
        var dtype: String
        var shape: [Int]
        var values: [Double]
        var sum: Double
    }
    var producedBy: String
    var stateDict: [Tensor]
    var netD: [Tensor]

    enum CodingKeys: String, CodingKey {
        case producedBy = "produced_by", stateDict = "state_dict", netD
    }
}

enum CheckpointFixtures {
    static var folder: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("checkpoints")
    }

    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    static func expected() throws -> ExpectedCheckpoint {
        try JSONDecoder().decode(ExpectedCheckpoint.self, from: Data(contentsOf: url("expected.json")))
    }
}

/// Compares read tensors with the reference: names in order, dtype, shape, every value within
/// 1e-6 (relative above 1), and the sum.
func assertTensors(_ got: [(name: String, record: TensorRecord)], equal expected: [ExpectedCheckpoint.Tensor],
                   _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.map(\.name), expected.map(\.name), "\(label): tensor names", file: file, line: line)
    for (g, e) in zip(got, expected) {
        XCTAssertEqual(g.record.dtype.rawValue, e.dtype, "\(label): dtype of \(e.name)", file: file, line: line)
        XCTAssertEqual(g.record.shape, e.shape, "\(label): shape of \(e.name)", file: file, line: line)
        XCTAssertEqual(g.record.values.count, e.values.count, "\(label): count of \(e.name)", file: file, line: line)
        for (i, (a, b)) in zip(g.record.values, e.values).enumerated() where !close(Double(a), b) {
            XCTFail("\(label): \(e.name)[\(i)] is \(a), torch says \(b)", file: file, line: line)
            break
        }
        let sum = g.record.values.reduce(0.0) { $0 + Double($1) }
        XCTAssertTrue(close(sum, e.sum, tolerance: 1e-5), "\(label): sum of \(e.name) is \(sum), torch says \(e.sum)", file: file, line: line)
    }
}

func close(_ a: Double, _ b: Double, tolerance: Double = 1e-6) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(b))
}

/// Asserts that `body` throws a CheckpointError of `kind` whose message holds each of `mentions`.
@discardableResult
func assertCheckpointError<T>(_ kind: CheckpointError.Kind, mentions: [String] = [], _ body: @autoclosure () throws -> T,
                              file: StaticString = #filePath, line: UInt = #line) -> CheckpointError? {
    do {
        _ = try body()
        XCTFail("expected a \(kind) error, but reading succeeded", file: file, line: line)
    } catch let error as CheckpointError {
        XCTAssertEqual(error.kind, kind, "wrong kind: \(error)", file: file, line: line)
        for m in mentions {
            XCTAssertTrue(error.description.contains(m), "message lacks '\(m)': \(error)", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("expected CheckpointError, got \(error)", file: file, line: line)
    }
    return nil
}

// MARK: - Building hostile inputs

/// A minimal STORED zip writer, enough to wrap hand-made pickles as torch archives.
enum TestZip {
    static func crc32(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBufferPointer { UInt32(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    static func make(_ entries: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        func le16(_ v: Int, _ a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func le32(_ v: UInt32, _ a: inout [UInt8]) { for i in 0..<4 { a.append(UInt8(v >> (8 * UInt32(i)) & 0xFF)) } }
        for (name, data) in entries {
            let n = Array(name.utf8), crc = crc32(data), offset = UInt32(out.count)
            le32(0x0403_4B50, &out); le16(20, &out); le16(0, &out); le16(0, &out); le16(0, &out); le16(0, &out)
            le32(crc, &out); le32(UInt32(data.count), &out); le32(UInt32(data.count), &out)
            le16(n.count, &out); le16(0, &out); out += n; out += data
            le32(0x0201_4B50, &central); le16(20, &central); le16(20, &central); le16(0, &central); le16(0, &central)
            le16(0, &central); le16(0, &central); le32(crc, &central); le32(UInt32(data.count), &central)
            le32(UInt32(data.count), &central); le16(n.count, &central); le16(0, &central); le16(0, &central)
            le16(0, &central); le16(0, &central); le32(0, &central); le32(offset, &central); central += n
        }
        let cdOffset = UInt32(out.count)
        out += central
        le32(0x0605_4B50, &out); le16(0, &out); le16(0, &out); le16(entries.count, &out); le16(entries.count, &out)
        le32(UInt32(central.count), &out); le32(cdOffset, &out); le16(0, &out)
        return out
    }

    /// A torch-style archive: `archive/data.pkl` plus `archive/data/<key>` storages.
    static func torch(pickle: [UInt8], storages: [(String, [UInt8])] = []) -> [UInt8] {
        make([("archive/data.pkl", pickle)] + storages.map { ("archive/data/\($0.0)", $0.1) })
    }
}

/// Writes pickle opcodes by hand, for inputs torch would never produce.
struct PickleWriter {
    var bytes: [UInt8] = [0x80, 0x02]

    mutating func op(_ b: UInt8...) { bytes += b }
    mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        bytes += [0x58] + (0..<4).map { UInt8(u.count >> (8 * $0) & 0xFF) } + u
    }
    /// LONG1 with 8 bytes: any Int, negative or huge.
    mutating func int(_ v: Int) { bytes += [0x8A, 8] + (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    mutating func tuple(_ items: [Int]) { op(0x28); items.forEach { int($0) }; op(0x74) }
    mutating func stop() { op(0x2E) }

    /// OrderedDict{name: _rebuild_tensor_v2(storage '0' of `numel` elements, offset, shape, stride)}.
    static func stateDict(name: String = "w", storageType: String = "FloatStorage", numel: Int,
                          offset: Int = 0, shape: [Int], stride: [Int]) -> [UInt8] {
        var p = PickleWriter()
        p.global("collections", "OrderedDict"); p.op(0x29, 0x52)          // OrderedDict()
        p.op(0x28); p.string(name)                                        // MARK name
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.op(0x28)                                                        // MARK args
        p.op(0x28); p.string("storage"); p.global("torch", storageType); p.string("0"); p.string("cpu"); p.int(numel)
        p.op(0x74, 0x51)                                                  // TUPLE BINPERSID
        p.int(offset); p.tuple(shape); p.tuple(stride)
        p.op(0x89); p.global("collections", "OrderedDict"); p.op(0x29, 0x52)
        p.op(0x74, 0x52)                                                  // TUPLE REDUCE
        p.op(0x75)                                                        // SETITEMS
        p.stop()
        return p.bytes
    }
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in (0..<4).map { UInt8(v.bitPattern >> (8 * UInt32($0)) & 0xFF) } }
}

/// A seeded generator for the mutation tests (SplitMix64).
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
