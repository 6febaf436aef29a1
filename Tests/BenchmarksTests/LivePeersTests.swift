import XCTest
import Foundation
@testable import Benchmarks

/// `forger bench --peer-server`'s client against stand-in servers (shell scripts speaking the
/// protocol of Tools/bench_peers.py --serve): figures, a peer's refusal, a server that never
/// starts and one that dies.
final class LivePeersTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("forger-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func script(_ body: String) throws -> String {
        let url = tmp.appendingPathComponent("server-\(UUID().uuidString).sh")
        try Data(body.utf8).write(to: url)
        return "/bin/sh \(url.path)"
    }

    func testWindowsComeFromTheServerAndRefusalsSayWhy() throws {
        let command = try script("""
        echo '{"peers": {"fake": "Fake 1.0"}, "missing": {"other": "not installed"}}'
        while read -r word peer model batch threads seconds; do
          if [ "$model" = a ]; then echo "$batch.5"; else echo "error no model $model"; fi
        done
        """)
        let live = try LivePeers(command: command)
        defer { live.close() }
        XCTAssertEqual(live.versions, ["fake": "Fake 1.0"])
        XCTAssertEqual(live.missing, ["other": "not installed"])
        XCTAssertEqual(try live.window(peer: "fake", model: "a", batch: 64, threads: 2, seconds: 0.1).get(), 64.5)
        XCTAssertEqual(try live.window(peer: "fake", model: "a", batch: 1, threads: 1, seconds: 0.1).get(), 1.5)
        switch live.window(peer: "fake", model: "b", batch: 1, threads: 1, seconds: 0.1) {
        case .success(let r): XCTFail("model b has no figure, got \(r)")
        case .failure(let why): XCTAssertEqual(why.message, "no model b")
        }
    }

    func testTrainingWindowsComeWithTheirThreads() throws {
        let command = try script("""
        echo '{"peers": {"pytorch": "PyTorch 9"}, "missing": {}, "openblas_coretype": "SkylakeX"}'
        while read -r word setting batch seconds; do
          case "$setting" in 1) echo "6.25 1" ;; default) echo "5.5 2" ;; *) echo "error no setting $setting" ;; esac
        done
        """)
        let live = try LivePeers(command: command)
        defer { live.close() }
        XCTAssertEqual(live.openblasCoretype, "SkylakeX")
        let one = try live.train(setting: "1", batch: 64, seconds: 1).get()
        XCTAssertEqual(one.0, 6.25)
        XCTAssertEqual(one.1, 1)
        let standard = try live.train(setting: "default", batch: 64, seconds: 1).get()
        XCTAssertEqual(standard.0, 5.5)
        XCTAssertEqual(standard.1, 2)
        switch live.train(setting: "7", batch: 64, seconds: 1) {
        case .success(let r): XCTFail("setting 7 has no figure, got \(r)")
        case .failure(let why): XCTAssertEqual(why.message, "no setting 7")
        }
    }

    func testAServerThatDoesNotStartIsNamed() throws {
        let command = try script("echo 'Traceback: no module named torch' >&2; exit 1")
        XCTAssertThrowsError(try LivePeers(command: command)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("--peer-server") && message.contains("expected a JSON line"), message)
            XCTAssertTrue(message.contains("nothing (did it exit?)"), message)
        }
    }

    func testAServerThatDiesGivesNoFigureAndNoCrash() throws {
        let command = try script("""
        echo '{"peers": {"fake": "Fake 1.0"}, "missing": {}}'
        read -r line
        exit 3
        """)
        let live = try LivePeers(command: command)
        defer { live.close() }
        for _ in 0..<3 {   // the first request is read, then the pipe is closed
            if case .success(let r) = live.window(peer: "fake", model: "a", batch: 1, threads: 1, seconds: 0.1) {
                XCTFail("a dead server gave \(r)")
            }
        }
    }
}
