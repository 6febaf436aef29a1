import XCTest
@testable import Tensor

/// The work splitters: every item is handed out exactly once, to a worker index in range,
/// whatever the worker count, and groups keep to their size.
final class ParallelTests: XCTestCase {
    /// How many times each item was handed out, and the highest worker index seen.
    func tally(_ count: Int, workers: Int, _ split: (_ record: (Int, Int) -> Void) -> Void) -> ([Int], Int) {
        let lock = NSLock()
        var seen = [Int](repeating: 0, count: count), highest = -1
        split { item, worker in
            lock.lock()
            seen[item] += 1
            highest = max(highest, worker)
            lock.unlock()
        }
        return (seen, highest)
    }

    func testClaimsHandOutEachItemOnce() {
        for workers in [1, 2, 3, 8] {
            for count in [0, 1, 2, 7, 100] {
                let (seen, highest) = tally(count, workers: workers) { record in
                    Parallel.forClaims(count, maxWorkers: workers) { item, worker in
                        // Uneven work, so that the claims interleave.
                        if item % 3 == 0 { usleep(200) }
                        record(item, worker)
                    }
                }
                XCTAssertEqual(seen, [Int](repeating: 1, count: count), "\(count) items, \(workers) workers")
                XCTAssertLessThan(highest, max(1, min(count, workers)), "\(count) items, \(workers) workers")
            }
        }
    }

    /// Stages run in order: every item of a stage is handed out once, and no item of the next
    /// stage starts before all of this one are done (each item checks the stage before it).
    func testStagesRunEachItemOnceAndInOrder() {
        for workers in [1, 2, 3] {
            for counts in [[2, 1, 4, 0, 3, 1], [1], [], [5, 5, 5, 5]] {
                let lock = NSLock()
                var seen = counts.map { [Int](repeating: 0, count: $0) }, early = 0, highest = -1
                counts.withUnsafeBufferPointer { cb in
                    Parallel.forStages(cb, maxWorkers: workers) { stage, item, worker in
                        lock.lock()
                        if let before = (0..<stage).last(where: { counts[$0] > 0 }), seen[before].contains(0) { early += 1 }
                        lock.unlock()
                        if item % 2 == 0 { usleep(300) }   // uneven work, so that the workers wait
                        lock.lock()
                        seen[stage][item] += 1
                        highest = max(highest, worker)
                        lock.unlock()
                    }
                }
                XCTAssertEqual(seen, counts.map { [Int](repeating: 1, count: $0) }, "\(counts), \(workers) workers")
                XCTAssertEqual(early, 0, "items started before the stage before them was done: \(counts), \(workers) workers")
                XCTAssertLessThan(highest, max(1, workers), "\(counts), \(workers) workers")
            }
        }
    }

    func testGroupsCoverTheBatchInRunsOfTheirSize() {
        for (count, group, workers) in [(64, 4, 2), (50, 16, 2), (5, 16, 3), (9, 1, 4), (0, 3, 2)] {
            let lock = NSLock()
            var runs: [Range<Int>] = []
            Parallel.forGroups(count, group: group, maxWorkers: workers) { images, worker in
                XCTAssertLessThan(worker, workers)
                lock.lock(); runs.append(images); lock.unlock()
            }
            runs.sort { $0.lowerBound < $1.lowerBound }
            let expected = stride(from: 0, to: count, by: group).map { $0..<min(count, $0 + group) }
            XCTAssertEqual(runs, expected, "\(count) images in groups of \(group)")
        }
    }

    func testGroupSizeLeavesEachWorkerSeveralRuns() {
        XCTAssertEqual(Parallel.groupSize(64, most: 16, workers: 2), 4)
        XCTAssertEqual(Parallel.groupSize(256, most: 16, workers: 2), 16)
        XCTAssertEqual(Parallel.groupSize(16, most: 16, workers: 2), 1)
        XCTAssertEqual(Parallel.groupSize(1, most: 16, workers: 2), 1)
        XCTAssertEqual(Parallel.groupSize(1000, most: 3, workers: 1), 3)
        XCTAssertEqual(Parallel.groupSize(16, least: 4, most: 16, workers: 2), 4, "a floor for the product's width")
        XCTAssertEqual(Parallel.groupSize(16, least: 20, most: 16, workers: 2), 16, "the ceiling wins")
        for count in 1...300 {
            let g = Parallel.groupSize(count, most: 16, workers: 2)
            XCTAssert((1...16).contains(g))
            // The smallest groups that make at most eight runs a worker, unless `most` caps them.
            XCTAssert(g == 16 || (count + g - 1) / g <= 16, "\(count) images: groups of \(g)")
            XCTAssert(g == 1 || (count + g - 2) / (g - 1) > 16, "\(count) images: groups of \(g)")
        }
    }
}
