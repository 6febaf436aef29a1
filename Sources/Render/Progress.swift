import Foundation

/// Reports progress of long work and can ask it to stop (gifski's ProgressReporter).
public protocol ProgressReporter: AnyObject {
    func start(total: Int, label: String)
    /// Returns false when the work should stop.
    @discardableResult func advance(by steps: Int) -> Bool
    func finish()
    /// A line about a stage that shows no bar (writing a large file); `large` says whether it
    /// takes long enough to be worth saying.
    func note(_ text: String, large: Bool)
}

extension ProgressReporter {
    public func note(_ text: String, large: Bool) {}
}

/// Reports nothing: for tests and `--quiet`.
public final class SilentProgress: ProgressReporter {
    public init() {}
    public func start(total: Int, label: String) {}
    public func advance(by steps: Int) -> Bool { true }
    public func finish() {}
}

/// A one-line bar on stderr, redrawn in place on a terminal and printed at most every few
/// seconds otherwise; silent for work that ends within a second.
public final class TerminalProgress: ProgressReporter {
    private var total = 0, done = 0, label = ""
    private var started = Date(), lastDraw = Date.distantPast
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var drew = false

    public init() {}

    public func start(total: Int, label: String) {
        self.total = max(total, 1); self.label = label; done = 0
        started = Date(); lastDraw = .distantPast; drew = false
    }

    public func advance(by steps: Int) -> Bool {
        done += steps
        let now = Date()
        let elapsed = now.timeIntervalSince(started)
        guard elapsed > 1, now.timeIntervalSince(lastDraw) > (isTerminal ? 0.1 : 5) else { return true }
        lastDraw = now
        draw(elapsed: elapsed)
        return true
    }

    public func finish() {
        guard drew else { return }
        draw(elapsed: Date().timeIntervalSince(started))
        FileHandle.standardError.write(Data("\n".utf8))
    }

    public func note(_ text: String, large: Bool) {
        guard large || drew else { return }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    private func draw(elapsed: Double) {
        drew = true
        let fraction = min(1, Double(done) / Double(total))
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
        let line = String(format: "%@ [%@] %d/%d  %.0f%%  %.1fs elapsed, ETA %.1fs", label, bar, done, total,
                          fraction * 100, elapsed, eta)
        FileHandle.standardError.write(Data((isTerminal ? "\r" + line : line + "\n").utf8))
    }
}
