import Foundation
import XCTest
import ModelIO

/// Reads the checkpoints written by Tools/make_checkpoint_fixtures.py (torch 1.13) and compares
/// every tensor with the values torch itself reports in expected.json.
final class CheckpointTests: XCTestCase {
    func testZipStateDictMatchesTorch() throws {
        let expected = try CheckpointFixtures.expected()
        let got = try PyTorchCheckpoint.read(CheckpointFixtures.url("state_dict_zip.pt"))
        assertTensors(got, equal: expected.stateDict, "zip")
    }

    func testLegacyStateDictMatchesTorch() throws {
        let expected = try CheckpointFixtures.expected()
        let got = try PyTorchCheckpoint.read(CheckpointFixtures.url("state_dict_legacy.pt"))
        assertTensors(got, equal: expected.stateDict, "legacy")
    }

    func testDeflatedZipMatchesTorch() throws {
        let expected = try CheckpointFixtures.expected()
        let got = try PyTorchCheckpoint.read(CheckpointFixtures.url("state_dict_deflated.pt"))
        assertTensors(got, equal: expected.stateDict, "deflated")
    }

    func testZip64RecordsMatchTorch() throws {
        let expected = try CheckpointFixtures.expected()
        let got = try PyTorchCheckpoint.read(CheckpointFixtures.url("state_dict_zip64.pt"))
        assertTensors(got, equal: expected.stateDict, "zip64")
    }

    func testPickleProtocol4MatchesTorch() throws {
        let expected = try CheckpointFixtures.expected()
        let got = try PyTorchCheckpoint.read(CheckpointFixtures.url("state_dict_protocol4.pt"))
        assertTensors(got, equal: expected.stateDict, "protocol 4")
    }

    func testViewsAreMadeContiguous() throws {
        let got = try PyTorchCheckpoint.read(CheckpointFixtures.url("state_dict_zip.pt"))
        let byName = Dictionary(uniqueKeysWithValues: got.map { ($0.name, $0.record) })
        let base = (0..<20).map { Float($0) / 8 - 1 } // (4, 5)
        let transposed = try XCTUnwrap(byName["transposed"])
        XCTAssertEqual(transposed.shape, [5, 4])
        XCTAssertEqual(transposed.values, (0..<20).map { base[($0 % 4) * 5 + $0 / 4] })
        let slice = try XCTUnwrap(byName["slice"])
        XCTAssertEqual(slice.shape, [2, 3])
        XCTAssertEqual(slice.values, [6, 7, 8, 11, 12, 13].map { base[$0] })
        XCTAssertEqual(byName["num_batches_tracked"]?.dtype, nil)
        XCTAssertEqual(byName["2.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(byName["2.num_batches_tracked"]?.values, [7])
        XCTAssertEqual(byName["scalar"]?.shape, [])
        XCTAssertEqual(byName["empty"]?.shape, [0, 3])
    }

    func testNestedCheckpointByKey() throws {
        let expected = try CheckpointFixtures.expected()
        for file in ["nested_zip.pt", "nested_legacy.pt"] {
            let url = CheckpointFixtures.url(file)
            assertTensors(try PyTorchCheckpoint.read(url, key: "netG"), equal: expected.stateDict, "\(file) netG")
            assertTensors(try PyTorchCheckpoint.read(url, key: "netD"), equal: expected.netD, "\(file) netD")
        }
    }

    func testNestedCheckpointWithoutKeyListsTheChoices() throws {
        let url = CheckpointFixtures.url("nested_zip.pt")
        let error = assertCheckpointError(.key, mentions: ["netG (19 tensors)", "netD (4 tensors)", "epoch", "--key netG"],
                                          try PyTorchCheckpoint.read(url))
        XCTAssertEqual(error?.path, url.path)
    }

    func testMissingOrWrongKey() throws {
        let url = CheckpointFixtures.url("nested_legacy.pt")
        assertCheckpointError(.key, mentions: ["no key 'netX'", "netG, netD, epoch"], try PyTorchCheckpoint.read(url, key: "netX"))
        assertCheckpointError(.key, mentions: ["'epoch'", "int"], try PyTorchCheckpoint.read(url, key: "epoch"))
        assertCheckpointError(.key, mentions: ["key 'epoch'", "holds an int", "no key 'nothing'"], try PyTorchCheckpoint.read(url, key: "epoch.nothing"))
    }

    func testDottedKeysReachNestedDictsAndDottedNames() throws {
        // {"state": {"gen.ema": sd}}: "state.gen.ema" must find the key that itself holds a dot.
        var p = PickleWriter()
        p.op(0x7D); p.string("state"); p.op(0x7D); p.string("gen.ema")
        let inner = PickleWriter.stateDict(numel: 2, shape: [2], stride: [1])
        p.bytes += inner.dropFirst(2).dropLast()  // the OrderedDict, without PROTO and STOP
        p.op(0x73, 0x73); p.stop()
        let zip = TestZip.torch(pickle: p.bytes, storages: [("0", floatBytes([1.5, -2]))])
        let got = try PyTorchCheckpoint.read(bytes: zip, path: "dotted.pt", key: "state.gen.ema")
        XCTAssertEqual(got.map(\.name), ["w"])
        XCTAssertEqual(got.first?.record.values, [1.5, -2])
        assertCheckpointError(.key, mentions: ["state.gen.ema (1 tensors)"], try PyTorchCheckpoint.read(bytes: zip, path: "dotted.pt", key: nil))
    }

    func testDescribeListsNameDtypeShape() throws {
        let got = try PyTorchCheckpoint.read(CheckpointFixtures.url("state_dict_zip.pt"))
        let lines = PyTorchCheckpoint.describe(got).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, got.count)
        XCTAssertEqual(lines.first, "0.weight               F32   (3, 4)")
        XCTAssertTrue(lines.contains("2.num_batches_tracked  I64   ()"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("half                   F16   (2, 3)"), lines.joined(separator: "\n"))
    }
}
