/// Something `forger import` or `forger export` could not do: what was wrong, where (file,
/// tensor, option) and what to do about it. Nothing has been written when one is thrown.
public struct ImportError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (checkpoint, spec, model directory) or option the problem is in.
    public var place: String
    /// Where inside it: a tensor, a key, a layer; nil when the place says enough.
    public var location: String?
    /// What was wrong.
    public var problem: String
    /// What to do about it.
    public var hint: String

    public init(_ place: String, at location: String? = nil, _ problem: String, hint: String = "") {
        self.place = place; self.location = location; self.problem = problem; self.hint = hint
    }

    public var description: String {
        var s = place
        if let location { s += " (\(location))" }
        s += ": \(problem)."
        if !hint.isEmpty { s += " \(hint)" }
        return s
    }
}

/// `(1, 2, 3)`, the way every shape is written in Forger's messages.
func shapeText(_ shape: [Int]) -> String { "(" + shape.map(String.init).joined(separator: ", ") + ")" }
