import CGemm
import Dispatch

/// Splits `count` independent items over the machine's cores.
public enum Parallel {
    /// The process's thread budget: one worker per core. Plans take theirs from
    /// `KernelPolicy.workers`; the passes that have no policy (elementwise, batch norm, training
    /// kernels) read this. Only `forger bench` changes it, between timed runs, to time one
    /// worker against all; nothing else (no test) writes it.
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

    /// Images per run of `forGroups` for a batch of `count`: at most `most` (what one product
    /// takes), else the fewest that make at most eight runs a worker, so that the workers finish
    /// together (measured on benchmarks A and B: 6-36% more images/s at batch 16 and 64 than
    /// one fixed share of runs of `most` per worker).
    public static func groupSize(_ count: Int, least: Int = 1, most: Int, workers: Int) -> Int {
        max(1, min(most, max(least, (count + 8 * workers - 1) / (8 * workers))))
    }

    /// `body(images, worker)` over 0..<count in runs of at most `group` items (the images one
    /// product takes at a time), which the workers claim one after another as they finish the
    /// last, so that a core that runs slower (a shared or throttled one) takes fewer. The runs are
    /// the same whoever takes them, so results do not depend on the timing.
    public static func forGroups(_ count: Int, group: Int, maxWorkers: Int? = nil,
                                 _ body: (Range<Int>, Int) -> Void) {
        let size = max(1, group)
        forClaims((count + size - 1) / size, maxWorkers: maxWorkers) { r, worker in
            body((r * size)..<min(count, (r + 1) * size), worker)
        }
    }

    /// `body(stage, item, worker)` for each item of each stage, stage after stage: the workers
    /// claim a stage's items in turn, and each moves on to the next stage only when every item of
    /// this one is done (spinning meanwhile). One hand-off to the workers serves all the stages:
    /// a single image's layers, where a hand-off per layer leaves a core idle while its thread
    /// wakes. Safe however the workers start: one that starts late finds the early stages done,
    /// and one that never starts leaves its items to the others.
    public static func forStages(_ counts: UnsafeBufferPointer<Int>, maxWorkers: Int? = nil,
                                 _ body: (Int, Int, Int) -> Void) {
        let workers = min(counts.max() ?? 0, maxWorkers ?? workerCount)
        if workers <= 1 {
            for (stage, count) in counts.enumerated() { for item in 0..<count { body(stage, item, 0) } }
            return
        }
        // Per stage: the next item to claim, and the items done.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * counts.count) { state in
            state.initialize(repeating: 0)
            let next = state.baseAddress!, done = next + counts.count
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for (stage, count) in counts.enumerated() {
                    claim(next + stage, below: count) { item in
                        body(stage, item, w)
                        forger_count_done(done + stage)
                    }
                    forger_wait_count(done + stage, count)
                }
            }
        }
    }

    /// `body(item, worker)` for each item of 0..<count, the workers claiming the next item as
    /// they finish the last; inline when one worker suffices.
    public static func forClaims(_ count: Int, maxWorkers: Int? = nil, _ body: (Int, Int) -> Void) {
        let workers = min(count, maxWorkers ?? workerCount)
        if workers <= 1 {
            for item in 0..<count { body(item, 0) }
            return
        }
        var next = 0
        withUnsafeMutablePointer(to: &next) { counter in
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                claim(counter, below: count) { body($0, w) }
            }
        }
    }

    /// `body(item)` for the items this worker claims from the shared counter `next`, until all
    /// of 0..<count are taken.
    @inline(__always)
    private static func claim(_ next: UnsafeMutablePointer<Int>, below count: Int, _ body: (Int) -> Void) {
        while true {
            let item = forger_claim_next(next)
            if item >= count { return }
            body(item)
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
