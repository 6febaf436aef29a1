import XCTest
import Foundation
@testable import ForgerCLI
import Benchmarks

/// `forger bench`'s GAN training row: the code path runs on a tiny batch and prints its columns.
/// Not a timing test: the figures only have to be positive and consistent with each other.
final class BenchCommandTests: CommandTestCase {
    /// A peers file as Tools/bench_peers.py writes it, with PyTorch's training figures only.
    func writePeers(batch: Int, rates: [(label: String, threads: Int, rate: Double)]) throws -> URL {
        let settings = rates.map { #"{"label": "\#($0.label)", "threads": \#($0.threads), "rate": \#($0.rate)}"# }
        let json = """
        {"peers": {"pytorch": {"version": "PyTorch 1.13 eager, best of [1, 2] threads", "rates": {}, "cold_start_s": null,
          "training": {"batch": \(batch), "settings": [\(settings.joined(separator: ", "))], "openblas_coretype": "SkylakeX"}}},
         "missing": {"onnxruntime": "--training-only: inference peers not timed"}, "threads": [1, 2]}
        """
        let url = tmp.appendingPathComponent("peers.json")
        try Data(json.utf8).write(to: url)
        return url
    }

    /// The cells of a table line (columns are separated by two or more spaces).
    func cells(_ line: String) -> [String] {
        line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// With --peer-server, PyTorch's settings come from the server, in windows between Forger's.
    func testLiveTrainingRowTakesThePeersFromTheServer() throws {
        let server = tmp.appendingPathComponent("server.sh")
        try Data("""
        echo '{"peers": {"pytorch": "PyTorch 9 eager"}, "missing": {}, "openblas_coretype": "Haswell"}'
        while read -r word setting batch seconds; do
          case "$setting" in 1) echo "0.5 1" ;; default) echo "0.25 2" ;; *) echo "0.125 $setting" ;; esac
        done
        """.utf8).write(to: server)
        let bench = try Bench.parse(["--training-only", "--training-batch", "4", "--training-seconds", "0.001",
                                     "--repeats", "2", "--threads", "1"])
        let live = try LivePeers(command: "/bin/sh \(server.path)")
        defer { live.close() }
        let lines = try bench.trainingReport(peerFile: nil, live: live)
        let text = lines.joined(separator: "\n")
        XCTAssertEqual(Array(cells(lines[1])[5...6]), ["pytorch 1 thread it/s", "pytorch default (2) it/s"], text)
        let row = cells(lines[3])
        XCTAssertEqual(Array(row[5...6]), ["0.50", "0.25"], text)
        let rate = try XCTUnwrap(Double(row[3]), row[3])
        XCTAssertEqual(try XCTUnwrap(Double(row.last!)), rate / 0.5, accuracy: 0.01 / 0.5 + 0.01, text)
        XCTAssertTrue(lines.contains("  pytorch: PyTorch 9 eager, OpenBLAS kernels Haswell"), text)
        XCTAssertTrue(lines.contains("  pytorch timed live (--peer-server), its windows alternating with Forger's"), text)
    }

    func testTrainingRowRunsAndSitsBesidePyTorch() throws {
        let peers = try writePeers(batch: 4, rates: [("1 thread", 1, 0.5), ("default", 2, 0.25)])
        let bench = try Bench.parse(["--training-only", "--training-batch", "4", "--training-seconds", "0.001",
                                     "--repeats", "1", "--threads", "1", "--peers", peers.path])
        let lines = try bench.trainingReport(peerFile: try bench.loadPeers())
        XCTAssertTrue(lines[0].hasPrefix("GAN training iterations/s"), lines[0])
        XCTAssertEqual(cells(lines[1]), ["training", "batch", "workers", "forger it/s", "it/cpu-s",
                                         "pytorch 1 thread it/s", "pytorch default (2) it/s", "x pytorch best"])
        XCTAssertTrue(lines[2].allSatisfy { $0 == "-" || $0 == " " }, lines[2])
        let row = cells(lines[3])
        XCTAssertEqual(row.count, 8, lines[3])
        XCTAssertEqual(Array(row[0...2]), ["C + conv D", "4", "1"])
        let rate = try XCTUnwrap(Double(row[3]), row[3])
        XCTAssertGreaterThan(rate, 0)
        XCTAssertGreaterThan(try XCTUnwrap(Double(row[4])), 0)
        XCTAssertEqual(Array(row[5...6]), ["0.50", "0.25"])
        // The ratio is to the peer's best setting (0.5 it/s), from the unrounded rate.
        XCTAssertEqual(try XCTUnwrap(Double(row[7])), rate / 0.5, accuracy: 0.01 / 0.5 + 0.01)
        XCTAssertTrue(lines.contains("  G 778305 and D 138689 parameters"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("  pytorch: PyTorch 1.13 eager, OpenBLAS kernels SkylakeX"), lines.joined(separator: "\n"))
    }

    func testTrainingRowWithoutPeerStandsAlone() throws {
        let bench = try Bench.parse(["--training-only"])
        let figure = Bench.TrainingFigure(rate: 3.25, perCPUSecond: 3.5, workers: 2, generatorParameters: 10, discriminatorParameters: 20)
        let lines = bench.trainingLines(figure, peerFile: nil)
        XCTAssertEqual(cells(lines[1]), ["training", "batch", "workers", "forger it/s", "it/cpu-s"])
        XCTAssertEqual(cells(lines[3]), ["C + conv D", "64", "2", "3.25", "3.50"])
        XCTAssertEqual(lines.last, "  pytorch: no training figures (no --peers); Forger's figure stands alone")
    }

    func testTrainingRowAtAnotherBatchThanThePeerHasNoRatio() throws {
        let peers = try writePeers(batch: 64, rates: [("1 thread", 1, 2), ("default", 1, 1.5), ("2 threads", 2, 1)])
        let bench = try Bench.parse(["--training-only", "--training-batch", "8", "--peers", peers.path])
        let figure = Bench.TrainingFigure(rate: 1, perCPUSecond: 1, workers: 1, generatorParameters: 1, discriminatorParameters: 1)
        let lines = bench.trainingLines(figure, peerFile: try bench.loadPeers())
        XCTAssertEqual(cells(lines[1]), ["training", "batch", "workers", "forger it/s", "it/cpu-s", "pytorch 1 thread it/s",
                                         "pytorch default (1) it/s", "pytorch 2 threads it/s", "x pytorch best"])
        XCTAssertEqual(cells(lines[3]).last, "-")
        XCTAssertTrue(lines.contains("  pytorch trained at batch 64, Forger at 8: no ratio"), lines.joined(separator: "\n"))
    }

    /// The walk-memory row reads each child's own high-water mark: VmHWM parsing, and a real
    /// forger child that reports a plausible figure; a failing command gives none.
    func testPeakMemoryReport() throws {
        XCTAssertEqual(PeakMemory.highWaterKB(status: "Name:\tforger\nVmPeak:\t  99 kB\nVmHWM:\t   43220 kB\nVmRSS:\t 1 kB\n"), 43220)
        XCTAssertNil(PeakMemory.highWaterKB(status: "Name:\tforger\n"))
        guard let binary = Self.binary else { throw XCTSkip("the forger binary was not found beside the test bundle") }
        let kb = try XCTUnwrap(PeakMemory.ofChild(binary.path, ["models"]), "forger models with FORGER_PEAK_MEMORY set")
        XCTAssertGreaterThan(kb, 1_000)
        XCTAssertLessThan(kb, 1_000_000)
        XCTAssertNil(PeakMemory.ofChild(binary.path, ["no-such-command"]))
        XCTAssertNil(PeakMemory.ofChild("/nonexistent/forger", []))
    }

    func testTrainingOptionsAreChecked() {
        XCTAssertThrowsError(try Bench.parse(["--training-batch", "1"])) { error in
            XCTAssertTrue(Bench.message(for: error).contains("--training-batch must be at least 2"), Bench.message(for: error))
        }
        XCTAssertThrowsError(try Bench.parse(["--training-only", "--no-training"]))
        XCTAssertThrowsError(try Bench.parse(["--training-seconds", "0"]))
    }

    func testHelpDescribesTheTrainingRow() {
        let help = Bench.helpMessage(columns: 200)
        for phrase in ["--training-batch", "--training-seconds", "--training-only", "--no-training",
                       "conv(1, 64, 4, 2, 1) + leaky relu 0.2", "Adam lr 2e-4", "same values the PyTorch peer uses"] {
            XCTAssertTrue(help.contains(phrase), "help lacks \(phrase)")
        }
    }
}
