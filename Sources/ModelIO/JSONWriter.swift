/// Writes JSON that people can read and edit: known keys first in a fixed order, short
/// arrays and objects on one line, numbers in their shortest exact form.
public enum JSONWriter {
    static let keyOrder = ["format", "version", "name", "description", "type", "kind", "size", "dtype", "shape", "data_offsets",
                           "distribution", "low", "high", "in", "out", "features", "kernel", "stride",
                           "padding", "output_padding", "scale", "slope", "eps", "weight", "bias",
                           "running_mean", "running_var", "classes", "embedding", "join", "labels",
                           "latent", "output", "channels", "height", "width", "range", "conditioning",
                           "layers", "training"]

    /// One line, no spaces: `{"a":[1,2]}`.
    public static func compact(_ value: JSONValue) -> String { render(value, indent: nil, separator: ",", colon: ":") }

    public static func pretty(_ value: JSONValue, lineWidth: Int = 100) -> String {
        render(value, indent: "", lineWidth: lineWidth) + "\n"
    }

    static func orderedKeys(_ o: [String: JSONValue]) -> [String] {
        let rank = Dictionary(uniqueKeysWithValues: keyOrder.enumerated().map { ($1, $0) })
        return o.keys.sorted { (rank[$0] ?? Int.max, $0) < (rank[$1] ?? Int.max, $1) }
    }

    private static func render(_ value: JSONValue, indent: String?, lineWidth: Int = 100,
                               separator: String = ", ", colon: String = ": ") -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return number(d)
        case .string(let s): return quote(s)
        case .array(let a):
            let inline = "[" + a.map { render($0, indent: nil, separator: separator, colon: colon) }.joined(separator: separator) + "]"
            guard let indent, inline.count + indent.count > lineWidth else { return inline }
            let inner = indent + "  "
            return "[\n" + a.map { inner + render($0, indent: inner, lineWidth: lineWidth) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let o):
            let keys = orderedKeys(o)
            let inline = "{" + keys.map { quote($0) + colon + render(o[$0]!, indent: nil, separator: separator, colon: colon) }
                .joined(separator: separator) + "}"
            guard let indent, inline.count + indent.count > lineWidth else { return inline }
            let inner = indent + "  "
            return "{\n" + keys.map { "\(inner)\(quote($0)): \(render(o[$0]!, indent: inner, lineWidth: lineWidth))" }
                .joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        let f = Float(d)
        // Values that came from float32 print as the float32's shortest form (1e-05, not 9.99999974737875e-06).
        return Double(f) == d ? "\(f)" : "\(d)"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

#if canImport(Foundation)
import Foundation
#endif
