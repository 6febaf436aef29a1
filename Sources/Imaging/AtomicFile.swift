import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes go to a temporary file beside the destination, then `rename(2)` over it, so a reader
/// never sees half a file and a failed write leaves nothing behind.
enum AtomicFile {
    /// A fresh temporary path in the destination's directory: `.<name>.<pid>.<counter>.tmp`.
    static func temporaryPath(for url: URL) -> String {
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        return directory + "/.\(name).\(getpid()).\(counter.next()).tmp"
    }

    /// The whole file at `url`, or an `ImagingError.io` naming it.
    static func readBytes(_ url: URL) throws -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw ImagingError.io(path: url.path, operation: "read", reason: (error as NSError).localizedDescription)
        }
    }

    /// Writes `bytes` to `url` atomically.
    static func write(_ bytes: [UInt8], to url: URL) throws {
        let temporary = temporaryPath(for: url)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ImagingError.io(path: url.path, operation: "create", reason: errnoText())
        }
        var failure: String?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errnoText()
                    return
                }
                offset += n
            }
        }
        if close(descriptor) != 0 && failure == nil { failure = errnoText() }
        if let failure {
            unlink(temporary)
            throw ImagingError.io(path: url.path, operation: "write", reason: failure)
        }
        try commit(temporary: temporary, to: url)
    }

    /// Renames a finished temporary file over `url`; removes it if the rename fails.
    static func commit(temporary: String, to url: URL) throws {
        // giflib creates its files 0600; outputs are ordinary files for people to share.
        chmod(temporary, 0o644)
        if rename(temporary, url.path) != 0 {
            let reason = errnoText()
            unlink(temporary)
            throw ImagingError.io(path: url.path, operation: "rename a temporary file onto", reason: reason)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    private static func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, buffer, count)
        #else
        return Darwin.write(fd, buffer, count)
        #endif
    }

    private static let counter = Counter()

    private final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func next() -> Int {
            lock.lock(); defer { lock.unlock() }
            value += 1
            return value
        }
    }
}
