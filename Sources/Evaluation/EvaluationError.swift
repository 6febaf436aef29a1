import Foundation

/// What a user can get wrong when evaluating: every message says what, where and what to do.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// A classifier directory that cannot be read or does not describe a usable network.
    case badClassifier(path: String, reason: String)
    /// Generated images and real images (or the classifier's input) do not fit together.
    case shapeMismatch(what: String, expected: String, actual: String, hint: String)
    /// Too few images for a metric.
    case tooFewImages(what: String, count: Int, needed: Int, hint: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .badClassifier(let path, let reason): return "classifier \(path): \(reason)"
        case .shapeMismatch(let what, let expected, let actual, let hint):
            return "\(what): expected \(expected), got \(actual); \(hint)"
        case .tooFewImages(let what, let count, let needed, let hint):
            return "\(what): \(count) images, at least \(needed) needed; \(hint)"
        case .cannotWrite(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }
}
