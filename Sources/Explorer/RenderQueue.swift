import Foundation

/// Bounds the render work a server takes on: at most `workers` renders run at once (each on a
/// thread of its own, off the HTTP event loops, and each parallel inside the engine), at most
/// `capacity` wait, and a client's waiting request is dropped when the same client sends a
/// newer one (a slider moved on), so a burst of slider events cannot pile up work.
public final class RenderQueue: @unchecked Sendable {
    public let workers: Int
    public let capacity: Int

    private let lock = NSLock()
    private var running = 0
    private var waiting: [Waiter] = []
    private let pool = DispatchQueue(label: "forger.explorer.render", attributes: .concurrent)

    private struct Waiter {
        let client: String?
        let continuation: CheckedContinuation<Void, any Error>
    }

    public init(workers: Int, capacity: Int) {
        precondition(workers >= 1 && capacity >= 0)
        self.workers = workers
        self.capacity = capacity
    }

    /// Renders in flight and waiting, for tests and the log.
    public var load: (running: Int, waiting: Int) {
        lock.lock(); defer { lock.unlock() }
        return (running, waiting.count)
    }

    /// Runs `work` when a worker is free. Throws a 409 when a newer request of the same
    /// `client` replaced this one while it waited, and a 429 when the queue is full.
    public func run<T>(client: String?, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await acquire(client: client)
        defer { release() }
        return try await withCheckedThrowingContinuation { continuation in
            pool.async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func acquire(client: String?) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enum Outcome { case start, wait, refuse }
            var superseded: CheckedContinuation<Void, any Error>?
            let outcome: Outcome
            lock.lock()
            if running < workers {
                running += 1
                outcome = .start
            } else {
                if let client, let i = waiting.firstIndex(where: { $0.client == client }) {
                    superseded = waiting.remove(at: i).continuation
                }
                if waiting.count >= capacity {
                    outcome = .refuse
                } else {
                    waiting.append(Waiter(client: client, continuation: continuation))
                    outcome = .wait
                }
            }
            lock.unlock()
            // Resumed outside the lock: a resumed continuation may run its task at once.
            superseded?.resume(throwing: ExplorerError(.conflict, "superseded by a newer request from the same client"))
            switch outcome {
            case .start: continuation.resume()
            case .wait: break       // resumed by `release` when a worker frees up
            case .refuse:
                continuation.resume(throwing: ExplorerError(.tooManyRequests,
                                                            "the server is busy: \(capacity) renders are waiting; try again shortly"))
            }
        }
    }

    private func release() {
        lock.lock()
        let next = waiting.isEmpty ? nil : waiting.removeFirst()
        if next == nil { running -= 1 }
        lock.unlock()
        next?.continuation.resume()
    }
}
