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
    nonisolated(unsafe) private static var interruptHandlers: [() -> Void] = []
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

    /// Runs `handler` (on a background queue) before the files are removed and the process
    /// exits on an interrupt: for work that wants to say what it kept.
    public static func onInterrupt(_ handler: @escaping () -> Void) {
        lock.lock(); defer { lock.unlock() }
        interruptHandlers.append(handler)
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
                let handlers = interruptHandlers
                lock.unlock()
                for handler in handlers { handler() }
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
