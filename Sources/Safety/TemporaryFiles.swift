import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files and folders this process is writing. When the process is interrupted
/// (SIGINT, SIGTERM, SIGHUP) after `removeOnInterrupt()`, they are removed before it exits, so
/// Ctrl-C never leaves a hidden half-written output behind.
public enum TemporaryFiles {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths = Set<String>()
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    /// While set, SIGINT calls it instead of ending the process (a second SIGINT ends it).
    nonisolated(unsafe) private static var stopHandler: (() -> Void)?
    /// Its own queue, so that the handler runs even while the engine's workers fill the pool.
    private static let queue = DispatchQueue(label: "forger.interrupt")

    public static func register(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        paths.insert(path)
    }

    public static func unregister(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        paths.remove(path)
    }

    /// The registered paths, for tests.
    public static var registered: Set<String> {
        lock.lock(); defer { lock.unlock() }
        return paths
    }

    /// Removes every registered file or folder; returns how many were removed.
    @discardableResult
    public static func removeAll() -> Int {
        lock.lock()
        let all = paths
        paths.removeAll()
        lock.unlock()
        var removed = 0
        for path in all where (try? FileManager.default.removeItem(atPath: path)) != nil { removed += 1 }
        return removed
    }

    /// Runs `body` with Ctrl-C (SIGINT) calling `stop` instead of ending the process, for work
    /// that can stop early and keep what it has; a second Ctrl-C, SIGTERM and SIGHUP still end
    /// it at once. Needs `removeOnInterrupt()` to have been called (the executable does).
    public static func whileInterruptStops<T>(_ stop: @escaping () -> Void, _ body: () throws -> T) rethrows -> T {
        lock.lock(); stopHandler = stop; lock.unlock()
        defer { lock.lock(); stopHandler = nil; lock.unlock() }
        return try body()
    }

    /// Installs the handlers: on SIGINT, SIGTERM or SIGHUP the registered temporary files are
    /// removed and the process exits with 128 + the signal number, as a shell reports it.
    /// The signals are received on a dispatch queue, not in signal context, so the clean-up
    /// may use ordinary code while the main thread is busy.
    public static func removeOnInterrupt() {
        lock.lock(); defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler {
                lock.lock()
                let stop = signalNumber == SIGINT ? stopHandler : nil
                stopHandler = nil      // the next Ctrl-C ends the process
                lock.unlock()
                if let stop { stop(); return }
                let removed = removeAll()
                let name = signalNumber == SIGINT ? "interrupted" : signalNumber == SIGTERM ? "terminated" : "hung up"
                let note = removed > 0 ? "; removed \(removed) unfinished file\(removed == 1 ? "" : "s")" : ""
                FileHandle.standardError.write(Data("\nforger: \(name)\(note)\n".utf8))
                _exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }
}
