import Foundation
import XCTest
import FuzzTargets

/// Runs every committed fuzz input through its target in the ordinary (checked) build: the
/// seed corpus must still be handled, and every input that once crashed a reader must now be
/// refused cleanly. A reader that traps again fails the whole test run, which is the point.
final class FuzzReplayTests: XCTestCase {
    static let fuzzFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let dir = Self.fuzzFolder.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    func testEveryTargetHasASeedCorpus() {
        for target in FuzzTarget.allCases {
            XCTAssertFalse(inputs("corpus", target).isEmpty, "Fuzz/corpus/\(target.rawValue) is empty")
        }
    }

    func testCorpusAndPastCrashesRunCleanly() throws {
        var count = 0
        for target in FuzzTarget.allCases {
            for url in inputs("corpus", target) + inputs("crashes", target) {
                target.run([UInt8](try Data(contentsOf: url)))
                count += 1
            }
        }
        XCTAssertGreaterThan(count, FuzzTarget.allCases.count)
    }
}
