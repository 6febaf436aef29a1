import Foundation
import Safety

/// Safety's atomic writes, with failures reported as `ImagingError.io`.
enum AtomicFile {
    static func temporaryPath(for url: URL) -> String { Safety.AtomicFile.temporaryPath(for: url) }

    static func readBytes(_ url: URL) throws -> [UInt8] {
        try mapped { try Safety.AtomicFile.readBytes(url) }
    }

    static func write(_ bytes: [UInt8], to url: URL) throws {
        try mapped { try Safety.AtomicFile.write(bytes, to: url) }
    }

    static func commit(temporary: String, to url: URL) throws {
        try mapped { try Safety.AtomicFile.commit(temporary: temporary, to: url) }
    }

    private static func mapped<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as FileError {
            throw ImagingError.io(path: e.path, operation: e.operation, reason: e.reason)
        }
    }
}
