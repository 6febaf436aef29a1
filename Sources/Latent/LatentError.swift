import Foundation

/// Errors a user can cause through the latent tools: bad options, files, sources, vectors.
/// Each message says what was wrong, where, and what to do.
public enum LatentError: Error, CustomStringConvertible, Equatable {
    /// An option or argument outside its allowed range (e.g. `psi must be in (0, 1]`).
    case invalidOption(String)
    /// Latents of the wrong size for the model.
    case sizeMismatch(file: String, fileSize: Int, modelSize: Int)
    /// A file that cannot be read, or is not what it claims to be.
    case badFile(path: String, reason: String)
    /// A latent source string that matches none of the accepted forms.
    case unknownSource(String)
    /// A name or row that is not in the file or library.
    case notFound(String)
    /// A vector made for another model.
    case modelMismatch(String)
    /// A computation with no defined answer (e.g. Gram-Schmidt on parallel vectors).
    case degenerate(String)

    public var description: String {
        switch self {
        case .invalidOption(let message): return message
        case let .sizeMismatch(file, fileSize, modelSize):
            return "\(file) holds latents of size \(fileSize), but the model takes latents of size "
                + "\(modelSize); use latents made for this model"
        case let .badFile(path, reason): return "\(path): \(reason)"
        case .unknownSource(let text):
            return "unknown latent source '\(text)'; accepted forms: \(LatentSource.acceptedForms)"
        case .notFound(let message): return message
        case .modelMismatch(let message): return message
        case .degenerate(let message): return message
        }
    }
}

// Small vector helpers over [Float], computed in Double for accuracy. Internal: the public API
// speaks in latents, not in a vector algebra.
@inline(__always) func dot(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "vector sizes differ: \(a.count) and \(b.count)")
    var s = 0.0
    for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
    return s
}

@inline(__always) func norm(_ a: [Float]) -> Double { dot(a, a).squareRoot() }

/// alpha * a + beta * b, in Double, rounded once.
@inline(__always) func combine(_ alpha: Double, _ a: [Float], _ beta: Double, _ b: [Float]) -> [Float] {
    precondition(a.count == b.count, "vector sizes differ: \(a.count) and \(b.count)")
    var out = [Float](repeating: 0, count: a.count)
    for i in 0..<a.count { out[i] = Float(alpha * Double(a[i]) + beta * Double(b[i])) }
    return out
}

@inline(__always) func scaled(_ a: [Float], _ s: Double) -> [Float] { a.map { Float(Double($0) * s) } }

/// Component-wise mean of equally sized vectors (at least one).
func meanVector(_ vectors: [[Float]]) -> [Float] {
    precondition(!vectors.isEmpty, "mean of no vectors")
    let size = vectors[0].count
    var acc = [Double](repeating: 0, count: size)
    for v in vectors {
        precondition(v.count == size, "vector sizes differ: \(size) and \(v.count)")
        for i in 0..<size { acc[i] += Double(v[i]) }
    }
    let n = Double(vectors.count)
    return acc.map { Float($0 / n) }
}
