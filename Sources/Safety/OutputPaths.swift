import Foundation

/// The one overwrite rule of every command: an output that already exists is refused unless
/// the command was given `--force`, and every output is checked before any work starts, so a
/// refusal costs nothing and leaves every file as it was.
public enum OutputPaths {
    public struct Refusal: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Throws if `path` exists (and `force` is off), is a folder, or lies in a folder that does
    /// not exist.
    public static func check(_ path: String, force: Bool, what: String = "output") throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        let parent = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Refusal(path: path, reason: "the folder \(parent) does not exist; create it first")
        }
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue {
            throw Refusal(path: path, reason: "a folder is in the way of the \(what); choose another name")
        }
        if !force {
            throw Refusal(path: path, reason: "the \(what) already exists; add --force to replace it, or choose another name")
        }
    }

    /// Checks several outputs at once and refuses two outputs with the same path.
    public static func check(_ paths: [(path: String, what: String)], force: Bool) throws {
        var seen: [String: String] = [:]
        for (path, what) in paths {
            let key = URL(fileURLWithPath: path).standardizedFileURL.path
            if let other = seen[key] {
                throw Refusal(path: path, reason: "the \(what) and the \(other) would be the same file; give them different names")
            }
            seen[key] = what
            try check(path, force: force, what: what)
        }
    }
}
