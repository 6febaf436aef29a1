import Foundation

/// Everything a user can get wrong while reading, writing or composing images.
///
/// Each message says what was wrong, where (file, frame, byte offset when known) and what to do.
/// Programmer errors (an index out of range inside a loop) are `precondition`s instead.
public enum ImagingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An argument outside its documented range, e.g. `fps 0`; `hint` says what is accepted.
    case invalidArgument(name: String, value: String, hint: String)
    /// A file could not be opened, written or renamed.
    case io(path: String, operation: String, reason: String)
    /// libpng refused the data (corrupt, truncated, not a PNG).
    case corruptPNG(path: String?, reason: String)
    /// giflib refused the data; `frame` is the 0-based frame index when known.
    case corruptGIF(path: String?, frame: Int?, reason: String)
    /// giflib failed while encoding.
    case gifEncoding(path: String, frame: Int?, reason: String)
    /// A frame whose size or channel count does not match the animation's.
    case frameMismatch(frame: Int, expected: String, got: String)
    /// The writer was used after `finish()` or after an earlier error.
    case writerClosed(path: String)

    public var description: String {
        switch self {
        case let .invalidArgument(name, value, hint):
            return "invalid \(name) \(value): \(hint)"
        case let .io(path, operation, reason):
            return "could not \(operation) '\(path)': \(reason). Check that the directory exists and is writable."
        case let .corruptPNG(path, reason):
            let place = path.map { "'\($0)'" } ?? "PNG data"
            return "\(place) is not a readable PNG: \(reason). Re-export the file or check that it was copied completely."
        case let .corruptGIF(path, frame, reason):
            let place = path.map { "'\($0)'" } ?? "GIF data"
            let at = frame.map { " (frame \($0))" } ?? ""
            return "\(place)\(at) is not a readable GIF: \(reason). Check that the file was written completely."
        case let .gifEncoding(path, frame, reason):
            let at = frame.map { " at frame \($0)" } ?? ""
            return "could not encode GIF '\(path)'\(at): \(reason). Check free disk space and permissions."
        case let .frameMismatch(frame, expected, got):
            return "frame \(frame) is \(got) but the animation is \(expected); resize or convert frames to one size and channel count first."
        case let .writerClosed(path):
            return "the GIF writer for '\(path)' is already finished or failed; create a new GIFWriter."
        }
    }
}
