import Foundation
import XCTest
import ModelIO

/// A checkpoint is untrusted input: each damaged or hostile file must end in a specific
/// CheckpointError — never a crash, a hang or an allocation out of proportion to the file.
final class CheckpointTestsHostile: XCTestCase {
    private func read(_ bytes: [UInt8], key: String? = nil) throws -> [(name: String, record: TensorRecord)] {
        try PyTorchCheckpoint.read(bytes: bytes, path: "hostile.pt", key: key)
    }

    /// `archive/data.pkl` = `pickle`, with storage '0' holding `storage`.
    private func archive(_ pickle: [UInt8], storage: [Float] = [1, 2, 3, 4]) -> [UInt8] {
        TestZip.torch(pickle: pickle, storages: [("0", floatBytes(storage))])
    }

    private func offset(of needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (start...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    func testHandMadeArchiveReads() throws {
        // The baseline the hostile variants below start from.
        let got = try read(archive(PickleWriter.stateDict(numel: 4, offset: 1, shape: [3], stride: [1])))
        XCTAssertEqual(got.first?.record.values, [2, 3, 4])
    }

    func testTruncatedZipsAreRefused() throws {
        let good = try CheckpointFixtures.bytes("state_dict_zip.pt")
        for length in stride(from: 0, to: good.count, by: 37) {
            XCTAssertThrowsError(try read(Array(good[0..<length])), "cut at \(length)") { error in
                XCTAssertTrue(error is CheckpointError, "cut at \(length): \(error)")
            }
        }
        assertCheckpointError(.truncated, mentions: ["hostile.pt", "end-of-central-directory"], try read(Array(good.prefix(good.count / 2))))
    }

    func testWrongCRCIsRefusedNamingTheEntry() throws {
        var bytes = try CheckpointFixtures.bytes("state_dict_zip.pt")
        // The central-directory record of data.pkl: the CRC sits 16 bytes after its signature.
        let name = Array("state_dict_zip/data.pkl".utf8)
        var at = 0, found = false
        while let s = offset(of: [0x50, 0x4B, 0x01, 0x02], in: bytes, from: at) {
            if Array(bytes[(s + 46)..<(s + 46 + name.count)]) == name { bytes[s + 16] ^= 0xFF; found = true; break }
            at = s + 1
        }
        XCTAssertTrue(found)
        assertCheckpointError(.crcMismatch, mentions: ["state_dict_zip/data.pkl", "CRC-32"], try read(bytes))
    }

    func testDamagedStorageBytesFailTheCRC() throws {
        var bytes = try CheckpointFixtures.bytes("state_dict_zip.pt")
        // Local header of storage '0': data starts after 30 + name + extra bytes.
        let name = Array("state_dict_zip/data/0".utf8)
        let s = try XCTUnwrap(offset(of: [0x50, 0x4B, 0x03, 0x04] + [], in: bytes).flatMap { _ in
            offset(of: name, in: bytes).map { $0 - 30 }
        })
        let extra = Int(bytes[s + 28]) | Int(bytes[s + 29]) << 8
        bytes[s + 30 + name.count + extra] ^= 0x01
        assertCheckpointError(.crcMismatch, mentions: ["state_dict_zip/data/0"], try read(bytes))
    }

    func testDamagedDeflateIsRefused() throws {
        var bytes = try CheckpointFixtures.bytes("state_dict_deflated.pt")
        let name = Array("state_dict_zip/data.pkl".utf8)
        let s = try XCTUnwrap(offset(of: name, in: bytes)) + name.count
        for i in 0..<16 { bytes[s + 4 + i] = 0xFF } // inside the deflated stream
        XCTAssertThrowsError(try read(bytes)) { error in
            guard let e = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertTrue([.badZip, .crcMismatch].contains(e.kind), "\(e)")
            XCTAssertTrue(e.description.contains("data.pkl"), "\(e)")
        }
    }

    func testUnknownGlobalsAreRefusedByName() throws {
        for (module, name) in [("os", "system"), ("torch.nn.modules.linear", "Linear"),
                               ("torch.storage", "_load_from_bytes"), ("builtins", "eval"), ("__main__", "Generator")] {
            var p = PickleWriter()
            p.global(module, name); p.string("touch /tmp/pwned"); p.op(0x85, 0x52); p.stop()
            assertCheckpointError(.refusedGlobal, mentions: ["'\(module).\(name)'", "not run", "byte 2"], try read(archive(p.bytes)))
        }
        // STACK_GLOBAL (protocol 4) goes through the same allow-list.
        var p = PickleWriter()
        p.string("posix"); p.string("system"); p.op(0x93); p.stop()
        assertCheckpointError(.refusedGlobal, mentions: ["'posix.system'"], try read(archive(p.bytes)))
    }

    func testUnknownOpcodeIsRefused() throws {
        var p = PickleWriter()
        p.op(0x69) // INST: text-mode object creation, never in a state_dict
        p.stop()
        assertCheckpointError(.badPickle, mentions: ["opcode 0x69", "archive/data.pkl", "byte 2"], try read(archive(p.bytes)))
    }

    func testUnterminatedPickleIsRefused() throws {
        var good = PickleWriter.stateDict(numel: 4, shape: [4], stride: [1])
        good.removeLast() // STOP
        assertCheckpointError(.truncated, mentions: ["STOP"], try read(archive(good)))
        // A length that runs past the end is refused before anything is allocated.
        var p = PickleWriter(); p.op(0x58, 0xFF, 0xFF, 0xFF, 0x7F)
        assertCheckpointError(.truncated, mentions: ["runs past the end"], try read(archive(p.bytes)))
        var q = PickleWriter(); q.op(0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F)
        assertCheckpointError(.truncated, try read(archive(q.bytes)))
    }

    func testMalformedStackUseIsRefused() throws {
        var p = PickleWriter(); p.op(0x68, 9); p.stop() // BINGET of a slot never stored
        assertCheckpointError(.badPickle, mentions: ["memo slot 9"], try read(archive(p.bytes)))
        var q = PickleWriter(); q.op(0x52); q.stop() // REDUCE on an empty stack
        assertCheckpointError(.badPickle, mentions: ["stack is empty"], try read(archive(q.bytes)))
        var r = PickleWriter(); r.op(0x4E, 0x4E); r.stop() // two values at STOP
        assertCheckpointError(.badPickle, mentions: ["STOP leaves 2 values"], try read(archive(r.bytes)))
        var s = PickleWriter(); s.op(0x4E, 0x4E, 0x52); s.stop() // calling None
        assertCheckpointError(.badPickle, try read(archive(s.bytes)))
    }

    func testStorageShorterThanTensorIsRefused() throws {
        let pickle = PickleWriter.stateDict(name: "conv.weight", numel: 10, shape: [10], stride: [1])
        assertCheckpointError(.badTensor, mentions: ["tensor 'conv.weight'", "shorter than the tensor", "holds only 4"],
                              try read(archive(pickle)))
        // An offset or strides that reach past the end are the same fault.
        let strided = PickleWriter.stateDict(numel: 4, shape: [2, 2], stride: [10, 1])
        assertCheckpointError(.badTensor, mentions: ["strides [10, 1]"], try read(archive(strided)))
        let offset = PickleWriter.stateDict(numel: 4, offset: 3, shape: [2], stride: [1])
        assertCheckpointError(.badTensor, try read(archive(offset)))
        let huge = PickleWriter.stateDict(numel: 4, shape: [2, 2], stride: [Int.max / 2, 1])
        assertCheckpointError(.badTensor, try read(archive(huge)))
        // A missing storage entry.
        assertCheckpointError(.missingEntry, mentions: ["archive/data/0"],
                              try read(TestZip.torch(pickle: PickleWriter.stateDict(numel: 4, shape: [4], stride: [1]))))
    }

    func testNegativeAndAbsurdShapesAreRefused() throws {
        assertCheckpointError(.badTensor, mentions: ["negative size"],
                              try read(archive(PickleWriter.stateDict(numel: 4, shape: [-1, 4], stride: [4, 1]))))
        assertCheckpointError(.badTensor, mentions: ["negative stride"],
                              try read(archive(PickleWriter.stateDict(numel: 4, shape: [4], stride: [-1]))))
        assertCheckpointError(.badTensor, mentions: ["negative storage offset"],
                              try read(archive(PickleWriter.stateDict(numel: 4, offset: -2, shape: [4], stride: [1]))))
        assertCheckpointError(.limitExceeded, mentions: ["more than 2^31"],
                              try read(archive(PickleWriter.stateDict(numel: 4, shape: [1 << 16, 1 << 16], stride: [0, 0]))))
        assertCheckpointError(.limitExceeded, mentions: ["more than 2^31"],
                              try read(archive(PickleWriter.stateDict(numel: 4, shape: [Int.max / 2, 4], stride: [0, 0]))))
        // Broadcast views (stride 0) within 2^31 are still capped by the file size.
        assertCheckpointError(.limitExceeded, mentions: ["tensor 'w'"],
                              try read(archive(PickleWriter.stateDict(numel: 4, shape: [1 << 30], stride: [0]))))
        assertCheckpointError(.badTensor, mentions: ["2 sizes but 1 strides"],
                              try read(archive(PickleWriter.stateDict(numel: 4, shape: [2, 2], stride: [1]))))
        assertCheckpointError(.badPickle, mentions: ["storage type"],
                              try read(archive(PickleWriter.stateDict(storageType: "Tensor", numel: 4, shape: [4], stride: [1]))))
    }

    func testRecursionBombsEndInErrors() throws {
        let depth = 50_000
        // Lists nested on the stack, EMPTY_LIST × n then APPEND × (n - 1): the stack bound stops it.
        var lists = PickleWriter()
        lists.bytes += [UInt8](repeating: 0x5D, count: 70_000) + [UInt8](repeating: 0x61, count: 69_999)
        lists.stop()
        assertCheckpointError(.limitExceeded, mentions: ["stack depth"], try read(archive(lists.bytes)))
        // The same depth built through the memo, which keeps the stack short: n lists memoized,
        // then list i appended into list i - 1. Reading it, and freeing it, must not recurse.
        var chain = PickleWriter()
        func le32(_ i: Int) -> [UInt8] { (0..<4).map { UInt8(i >> (8 * $0) & 0xFF) } }
        for i in 0..<depth { chain.op(0x5D, 0x72); chain.bytes += le32(i); chain.op(0x30) }
        for i in 1..<depth { chain.op(0x6A); chain.bytes += le32(i - 1); chain.op(0x6A); chain.bytes += le32(i); chain.op(0x61, 0x30) }
        chain.op(0x6A); chain.bytes += le32(0); chain.stop()
        assertCheckpointError(.key, mentions: ["holds a list"], try read(archive(chain.bytes)))
        // Tuples: None, then TUPLE1 × n (each pops one and pushes one).
        var tuples = PickleWriter()
        tuples.op(0x4E); tuples.bytes += [UInt8](repeating: 0x85, count: depth); tuples.stop()
        assertCheckpointError(.key, mentions: ["holds a tuple"], try read(archive(tuples.bytes)))
        // Dicts {"a": {"a": ...}} built through the memo: searched to a bounded depth only.
        var dicts = PickleWriter()
        for i in 0..<depth { dicts.op(0x7D, 0x72); dicts.bytes += le32(i); dicts.op(0x30) }
        for i in 1..<depth {
            dicts.op(0x6A); dicts.bytes += le32(i - 1); dicts.op(0x8C, 1, UInt8(ascii: "a"), 0x6A); dicts.bytes += le32(i); dicts.op(0x73, 0x30)
        }
        dicts.op(0x6A); dicts.bytes += le32(0); dicts.stop()
        assertCheckpointError(.key, mentions: ["no state_dict"], try read(archive(dicts.bytes)))
        // MARKs alone count against the same bound.
        var marks = PickleWriter()
        marks.bytes += [UInt8](repeating: 0x28, count: 70_000); marks.stop()
        assertCheckpointError(.limitExceeded, mentions: ["MARK"], try read(archive(marks.bytes)))
    }

    func testCyclesEndInErrors() throws {
        // d = {}; d["a"] = d
        var dict = PickleWriter()
        dict.op(0x7D, 0x71, 0); dict.op(0x8C, 1, UInt8(ascii: "a")); dict.op(0x68, 0, 0x73); dict.stop()
        assertCheckpointError(.key, mentions: ["no state_dict"], try read(archive(dict.bytes)))
        assertCheckpointError(.key, mentions: ["key 'a.a.a'", "no state_dict"], try read(archive(dict.bytes), key: "a.a.a"))
        assertCheckpointError(.limitExceeded, mentions: ["nested more than"],
                              try read(archive(dict.bytes), key: Array(repeating: "a", count: 40).joined(separator: ".")))
        // l = []; l.append(l)
        var list = PickleWriter()
        list.op(0x5D, 0x71, 0, 0x68, 0, 0x61); list.stop()
        assertCheckpointError(.key, mentions: ["holds a list"], try read(archive(list.bytes)))
    }

    func testLegacyStreamDamageIsRefused() throws {
        let good = try CheckpointFixtures.bytes("state_dict_legacy.pt")
        for length in stride(from: 0, to: good.count, by: 23) {
            XCTAssertThrowsError(try read(Array(good[0..<length])), "cut at \(length)") { error in
                XCTAssertTrue(error is CheckpointError, "cut at \(length): \(error)")
            }
        }
        assertCheckpointError(.truncated, mentions: ["legacy stream"], try read(Array(good.dropLast(5))))
        // A plain pickle is not a torch.save stream.
        var p = PickleWriter(); p.op(0x4E); p.stop()
        assertCheckpointError(.notACheckpoint, mentions: ["magic number"], try read(p.bytes))
        assertCheckpointError(.notACheckpoint, try read(Array("hello".utf8)))
        assertCheckpointError(.notACheckpoint, try read([]))
    }

    /// Random byte changes to every kind of file: each read either succeeds or throws a
    /// CheckpointError. The legacy stream has no CRC, so its pickles meet the damage directly;
    /// the zip cases rebuild the archive so the CRC stays right and the pickle is reached.
    func testRandomMutationsNeverCrash() throws {
        var random = TestRandom(state: 42)
        let legacy = try CheckpointFixtures.bytes("state_dict_legacy.pt")
        let pickle = try pickleOfFixture()
        let storages = try storagesOfFixture()
        var outcomes = (ok: 0, refused: 0)
        for round in 0..<600 {
            var bytes = round % 2 == 0 ? legacy : pickle
            for _ in 0..<(1 + random.below(4)) { bytes[random.below(bytes.count)] = UInt8(random.below(256)) }
            let input = round % 2 == 0 ? bytes : TestZip.torch(pickle: bytes, storages: storages)
            do {
                _ = try read(input, key: round % 3 == 0 ? "w" : nil)
                outcomes.ok += 1
            } catch is CheckpointError {
                outcomes.refused += 1
            } catch {
                XCTFail("round \(round): \(error)")
            }
        }
        XCTAssertGreaterThan(outcomes.refused, 100)
    }

    private func fixtureZip() throws -> [(name: String, data: [UInt8])] {
        // The fixture's own entries, found through its central directory (torch's local headers
        // leave the sizes to data descriptors).
        let bytes = try CheckpointFixtures.bytes("state_dict_zip.pt")
        var entries: [(String, [UInt8])] = [], at = 0
        func u(_ p: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[p + $1]) << (8 * $1) } }
        while let c = offset(of: [0x50, 0x4B, 0x01, 0x02], in: bytes, from: at) {
            let size = u(c + 20, 4), nameLen = u(c + 28, 2), local = u(c + 42, 4)
            let name = String(decoding: bytes[(c + 46)..<(c + 46 + nameLen)], as: UTF8.self)
            let start = local + 30 + u(local + 26, 2) + u(local + 28, 2)
            entries.append((name, Array(bytes[start..<(start + size)])))
            at = c + 46
        }
        return entries
    }

    private func pickleOfFixture() throws -> [UInt8] {
        try XCTUnwrap(try fixtureZip().first { $0.name.hasSuffix("data.pkl") }?.data)
    }

    private func storagesOfFixture() throws -> [(String, [UInt8])] {
        try fixtureZip().compactMap { e in
            e.name.contains("/data/") ? (String(e.name.split(separator: "/").last!), e.data) : nil
        }
    }

    func testWholeModelPicklesAreRefused() throws {
        // torch.save(model) pickles the module class itself.
        var p = PickleWriter()
        p.global("torch.nn.modules.container", "Sequential"); p.op(0x29, 0x81); p.stop()
        let e = assertCheckpointError(.refusedGlobal, mentions: ["torch.nn.modules.container.Sequential"], try read(archive(p.bytes)))
        XCTAssertTrue(e?.hint.contains("state_dict") ?? false)
    }
}
