import Dispatch

/// Splits `count` independent items over the machine's cores.
public enum Parallel {
    nonisolated(unsafe) public static var workerCount: Int = {
        let cores = sysconfCores()
        return max(1, cores)
    }()

    /// Calls `body(range, worker)` for contiguous chunks of `0..<count`, one chunk per worker.
    /// `worker` indexes per-worker scratch buffers. Runs inline when one worker suffices.
    public static func forChunks(_ count: Int, maxWorkers: Int? = nil,
                                 _ body: (Range<Int>, Int) -> Void) {
        let workers = min(count, maxWorkers ?? workerCount)
        if workers <= 1 {
            if count > 0 { body(0..<count, 0) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = count * w / workers, hi = count * (w + 1) / workers
            if lo < hi { body(lo..<hi, w) }
        }
    }

    /// `body(range)` over 0..<count in one span per worker, for elementwise passes; inline below
    /// 64 Ki items, where handing work to another core costs more than it saves.
    public static func forSpans(_ count: Int, _ body: (Range<Int>) -> Void) {
        if count < 1 << 16 {
            if count > 0 { body(0..<count) }
            return
        }
        forChunks(count) { range, _ in body(range) }
    }

    /// `forChunks`, with each worker's chunk handed to `body` in runs of at most `group` items
    /// (the images one product takes at a time).
    public static func forGroups(_ count: Int, group: Int, maxWorkers: Int? = nil,
                                 _ body: (Range<Int>, Int) -> Void) {
        forChunks(count, maxWorkers: maxWorkers) { chunk, worker in
            var i = chunk.lowerBound
            while i < chunk.upperBound {
                let j = min(chunk.upperBound, i + max(1, group))
                body(i..<j, worker)
                i = j
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
private func sysconfCores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#else
import Foundation
private func sysconfCores() -> Int { ProcessInfo.processInfo.activeProcessorCount }
#endif
