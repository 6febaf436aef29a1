import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file could not be read or written: which file, what was being done, and why.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let operation: String
    public let reason: String

    public init(path: String, operation: String, reason: String) {
        self.path = path; self.operation = operation; self.reason = reason
    }

    public var description: String { "cannot \(operation) \(path): \(reason)" }
}

/// Writes go to a temporary file beside the destination, then `rename(2)` over it, so a reader
/// never sees half a file, a failed write leaves nothing behind, and an interrupted process
/// removes its temporary files (see `TemporaryFiles`).
public enum AtomicFile {
    /// A fresh temporary path in the destination's directory: `.<name>.<pid>.<counter>.tmp`.
    public static func temporaryPath(for url: URL) -> String {
        let directory = url.deletingLastPathComponent().path
        return directory + "/.\(url.lastPathComponent).\(getpid()).\(counter.next()).tmp"
    }

    /// The whole file at `url`.
    public static func readBytes(_ url: URL) throws -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw FileError(path: url.path, operation: "read", reason: (error as NSError).localizedDescription)
        }
    }

    public static func write(_ data: Data, to url: URL) throws {
        try write([UInt8](data), to: url)
    }

    /// Writes `bytes` to `url` atomically.
    public static func write(_ bytes: [UInt8], to url: URL) throws {
        let temporary = try create(for: url)
        var failure: String?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(temporary.descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errnoText()
                    return
                }
                offset += n
            }
        }
        if close(temporary.descriptor) != 0 && failure == nil { failure = errnoText() }
        if let failure {
            discard(temporary: temporary.path)
            throw FileError(path: url.path, operation: "write", reason: failure)
        }
        try commit(temporary: temporary.path, to: url)
    }

    /// Creates and registers a fresh temporary file for `url`, open for writing.
    public static func create(for url: URL) throws -> (path: String, descriptor: Int32) {
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileError(path: url.path, operation: "write", reason: "folder \(directory) does not exist; create it first")
        }
        let path = temporaryPath(for: url)
        TemporaryFiles.register(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let reason = errnoText()
            TemporaryFiles.unregister(path)
            throw FileError(path: url.path, operation: "create a temporary file for", reason: reason)
        }
        return (path, descriptor)
    }

    /// Renames a finished temporary file over `url`; removes it if the rename fails.
    public static func commit(temporary: String, to url: URL) throws {
        // giflib creates its files 0600; outputs are ordinary files for people to share.
        chmod(temporary, 0o644)
        if rename(temporary, url.path) != 0 {
            let reason = errnoText()
            discard(temporary: temporary)
            throw FileError(path: url.path, operation: "rename a temporary file onto", reason: reason)
        }
        TemporaryFiles.unregister(temporary)
    }

    /// Removes an unfinished temporary file.
    public static func discard(temporary: String) {
        unlink(temporary)
        TemporaryFiles.unregister(temporary)
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
