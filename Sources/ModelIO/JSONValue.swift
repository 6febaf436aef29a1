import Foundation

/// Any JSON value, used to keep manifest keys Forger does not know so that a rewritten
/// manifest loses nothing.
public enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

/// Coding keys for arbitrary strings.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension JSONValue {
    /// The first key that appears twice in one object of `json`, with the byte offset of its
    /// second appearance. JSONDecoder keeps one of the two silently; formats whose reference
    /// refuses duplicates (safetensors) call this on text that already decoded.
    public static func firstDuplicateKey(in json: [UInt8]) -> (key: String, offset: Int)? {
        // One set of keys per open container; nil marks an array.
        var open: [Set<String>?] = []
        var i = 0
        while i < json.count {
            let c = json[i]
            switch c {
            case UInt8(ascii: "{"): open.append([]); i += 1
            case UInt8(ascii: "["): open.append(nil); i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = open.popLast(); i += 1
            case UInt8(ascii: "\""):
                let start = i
                var escaped = false
                i += 1
                while i < json.count {
                    if json[i] == UInt8(ascii: "\\") { escaped = true; i += 2; continue }
                    if json[i] == UInt8(ascii: "\"") { break }
                    i += 1
                }
                let end = min(i + 1, json.count)
                i = end
                var j = i
                while j < json.count, [0x20, 0x09, 0x0A, 0x0D].contains(json[j]) { j += 1 }
                // A string directly inside an object and followed by ':' is a key.
                guard j < json.count, json[j] == UInt8(ascii: ":"), let last = open.last, var keys = last else { continue }
                let literal = Array(json[start..<end])
                let key = escaped ? ((try? JSONDecoder().decode(String.self, from: Data(literal))) ?? String(decoding: literal, as: UTF8.self))
                    : String(decoding: literal.dropFirst().dropLast(), as: UTF8.self)
                guard keys.insert(key).inserted else { return (key, start) }
                open[open.count - 1] = keys
            default: i += 1
            }
        }
        return nil
    }
}
