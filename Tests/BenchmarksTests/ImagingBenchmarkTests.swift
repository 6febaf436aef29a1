import XCTest
import Imaging
@testable import Benchmarks

/// Runs the GIF benchmark only when FORGER_BENCH=1 (see Tools/bench-imaging.sh); skipped otherwise.
final class ImagingBenchmarkTests: XCTestCase {
    func testBenchmark() throws {
        guard ProcessInfo.processInfo.environment["FORGER_BENCH"] == "1" else {
            throw XCTSkip("GIF benchmark skipped: run Tools/bench-imaging.sh (sets FORGER_BENCH=1, release build)")
        }
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FORGER_BENCH_DIR"] ?? NSTemporaryDirectory())
            .appendingPathComponent("forger-bench-imaging")
        let table = try ImagingBenchmark.run(outputDirectory: directory)
        print("\n" + table + "outputs in \(directory.path)\n")
        XCTAssertTrue(table.contains("forger"))
    }

    func testBenchmarkFramesAreDeterministic() {
        XCTAssertEqual(ImagingBenchmark.greyFrames(count: 2), ImagingBenchmark.greyFrames(count: 2))
        let frames = ImagingBenchmark.rgbFrames(count: 1)
        XCTAssertEqual(frames[0].width, 256)
        XCTAssertEqual(frames[0].channels, 3)
        XCTAssertFalse(frames[0].isGrey)
    }
}
