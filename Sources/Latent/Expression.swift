import Foundation

/// A leaf of a latent expression: a seed, or a name resolved by the caller (a named latent from
/// a file, or an attribute vector from a library).
public enum LatentAtom: Hashable, Sendable, CustomStringConvertible {
    case seed(UInt64)
    case name(String)

    public var description: String {
        switch self {
        case .seed(let s): return "seed:\(s)"
        case .name(let n): return n.contains("-") ? "{\(n)}" : n
        }
    }
}

/// A parse error with its 1-based column; `description` shows the source with a caret:
///
///     expected ',' or ')' at column 20
///       mean(seed:1, seed:2
///                          ^
public struct ExpressionError: Error, Equatable, CustomStringConvertible {
    public let message: String
    /// 1-based, counted in Characters; one past the end for errors at the end of the input.
    public let column: Int
    public let source: String

    public var description: String {
        // A long source is shown as a window around the column, so that the caret stays legible.
        let chars = Array(source), width = 72
        let start = max(0, min(column - 1 - width / 2, chars.count - width))
        let end = min(chars.count, start + width)
        let prefix = start > 0 ? "..." : "", suffix = end < chars.count ? "..." : ""
        let shown = prefix + String(chars[start..<end]) + suffix
        let caret = String(repeating: " ", count: max(0, column - 1 - start + prefix.count)) + "^"
        return "\(message) at column \(column)\n  \(shown)\n  \(caret)"
    }
}

/// Latent arithmetic as in the DCGAN paper, e.g.
/// `mean(seed:1, seed:2, seed:3) - mean(seed:4, seed:5) + 0.5*mean(seed:7, seed:8) + smile`.
///
/// Grammar (numbers only scale latents; two latents are never multiplied):
///
///     expr    := term (('+' | '-') term)*
///     term    := unary (('*' | '/') unary)*      -- number*latent, latent*number, latent/number
///     unary   := ('-' | '+') unary | primary
///     primary := NUMBER | '(' expr ')' | 'mean' '(' expr (',' expr)* ')' | 'seed' ':' INTEGER | NAME
///              | '{' NAME- '}'
///
/// NAME is a letter or '_' followed by letters, digits or '_'; NAME- may also hold '-', for
/// library names such as `{sefa-3}` (a bare `sefa-3` is sefa minus 3). Constant
/// subexpressions such as `2*3` or `-(0.5)` fold into one coefficient, and so do repeated
/// factors of a latent (`a*2*3` is `6*a`).
public indirect enum LatentExpression: Equatable, Sendable, CustomStringConvertible {
    public typealias Atom = LatentAtom

    case atom(LatentAtom)
    case mean([LatentExpression])
    case sum(LatentExpression, LatentExpression)
    case difference(LatentExpression, LatentExpression)
    case negate(LatentExpression)
    case scale(LatentExpression, Double)

    /// Longest source accepted, in Characters.
    public static let maxLength = 20_000
    /// Most seeds and names in one expression: each becomes a latent to generate and an
    /// exemplar in `forger arith`'s figure.
    public static let maxAtoms = 1_000
    /// Deepest nesting of parentheses, `mean(` and unary signs. The parser and every walk of
    /// the tree recurse once per level, so this bounds their stack use.
    public static let maxDepth = 100

    /// Parses a whole expression; throws `ExpressionError`, also when the source passes one
    /// of the limits above.
    public static func parse(_ source: String) throws -> LatentExpression {
        var parser = try ExpressionParser(source)
        return try parser.parseAll()
    }

    /// Evaluates in Double, rounding to Float once at the end. Throws what `resolve` throws,
    /// or `LatentError.invalidOption` when the latents differ in size.
    public func evaluate(_ resolve: (LatentAtom) throws -> [Float]) throws -> [Float] {
        let value = try evaluateDouble(resolve).map { Float($0) }
        // Coefficients are finite Doubles, but the latent is float32: 1e30*(1e30*a) leaves its range.
        guard value.allSatisfy(\.isFinite) else {
            throw LatentError.invalidOption("the expression's value is not finite in float32; its coefficients are too large")
        }
        return value
    }

    private func evaluateDouble(_ resolve: (LatentAtom) throws -> [Float]) throws -> [Double] {
        func same(_ a: [Double], _ b: [Double]) throws {
            guard a.count == b.count else {
                throw LatentError.invalidOption("latents in the expression differ in size: \(a.count) and \(b.count)")
            }
        }
        switch self {
        case .atom(let atom): return try resolve(atom).map(Double.init)
        case .mean(let items):
            var acc = try items[0].evaluateDouble(resolve)
            for item in items.dropFirst() {
                let v = try item.evaluateDouble(resolve)
                try same(acc, v)
                for i in 0..<acc.count { acc[i] += v[i] }
            }
            return acc.map { $0 / Double(items.count) }
        case let .sum(a, b), let .difference(a, b):
            let x = try a.evaluateDouble(resolve), y = try b.evaluateDouble(resolve)
            try same(x, y)
            if case .sum = self { return zip(x, y).map { $0 + $1 } }
            return zip(x, y).map { $0 - $1 }
        case .negate(let a): return try a.evaluateDouble(resolve).map { -$0 }
        case let .scale(a, s): return try a.evaluateDouble(resolve).map { $0 * s }
        }
    }

    /// One signed, scaled term of the top-level sum, for figures that show each operand's
    /// exemplars and their mean (DCGAN paper, figure 7).
    public struct Operand: Equatable, Sendable {
        public var coefficient: Double
        /// An `.atom` or a `.mean`.
        public var term: LatentExpression
        /// A mean's items, or the atom itself.
        public var exemplars: [LatentExpression] {
            if case .mean(let items) = term { return items }
            return [term]
        }
    }

    /// The additive operands, with signs and scales (including those around parentheses)
    /// distributed onto them: `a - 0.5*(b + mean(c, d))` gives (1, a), (-0.5, b),
    /// (-0.5, mean(c, d)). The expression's value is the sum of coefficient * term.
    public var operands: [Operand] {
        var out: [Operand] = []
        func collect(_ e: LatentExpression, _ k: Double) {
            switch e {
            case .atom, .mean: out.append(Operand(coefficient: k, term: e))
            case let .sum(a, b): collect(a, k); collect(b, k)
            case let .difference(a, b): collect(a, k); collect(b, -k)
            case .negate(let a): collect(a, -k)
            case let .scale(a, s): collect(a, k * s)
            }
        }
        collect(self, 1)
        return out
    }

    /// Every atom, in reading order, repeats included.
    public var atoms: [LatentAtom] {
        switch self {
        case .atom(let a): return [a]
        case .mean(let items): return items.flatMap(\.atoms)
        case let .sum(a, b), let .difference(a, b): return a.atoms + b.atoms
        case .negate(let a), .scale(let a, _): return a.atoms
        }
    }

    /// Canonical text that parses back to the same expression.
    public var description: String {
        // A sign needs no parentheses after '-' or '*' ("--a", "2*-a"), so the text nests no
        // deeper than the expression and stays within maxDepth.
        func wrapped(_ e: LatentExpression) -> String {
            switch e {
            case .sum, .difference, .scale: return "(\(e))"
            default: return e.description
            }
        }
        switch self {
        case .atom(let a): return a.description
        case .mean(let items): return "mean(" + items.map(\.description).joined(separator: ", ") + ")"
        case let .sum(a, b): return "\(a) + \(wrappedRight(b))"
        case let .difference(a, b): return "\(a) - \(wrappedRight(b))"
        case .negate(let a): return "-" + wrapped(a)
        case let .scale(a, s): return LatentExpression.format(s) + "*" + wrapped(a)
        }
    }

    private func wrappedRight(_ e: LatentExpression) -> String {
        switch e {
        case .sum, .difference: return "(\(e))"
        default: return e.description
        }
    }

    static func format(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        let text = "\(x)"
        return x < 0 ? "(\(text))" : text
    }
}

// MARK: - Tokenizer and parser

private struct Token {
    enum Kind: Equatable {
        case number(Double), name(String), quotedName(String)
        case plus, minus, star, slash, open, close, comma, colon, end
    }
    var kind: Kind
    var column: Int
    var text: String
}

private struct ExpressionParser {
    /// A parsed subexpression: a constant or a latent, with where it started.
    enum Value {
        case number(Double)
        case latent(LatentExpression)
    }

    let source: String
    var tokens: [Token] = []
    var position = 0

    /// Nesting levels entered so far (parentheses, `mean(`, unary signs) and atoms parsed.
    var depth = 0
    var atomCount = 0

    init(_ source: String) throws {
        self.source = source
        let chars = Array(source)
        guard chars.count <= LatentExpression.maxLength else {
            throw ExpressionError(message: "the expression is \(chars.count) characters long; the limit is \(LatentExpression.maxLength)",
                                  column: LatentExpression.maxLength + 1, source: source)
        }
        var i = 0
        func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
        func isNamePart(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }
        func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
        while i < chars.count {
            let c = chars[i], column = i + 1
            if c.isWhitespace { i += 1; continue }
            let single: Token.Kind? = [
                "+": .plus, "-": .minus, "*": .star, "/": .slash,
                "(": .open, ")": .close, ",": .comma, ":": .colon,
            ][c]
            if let kind = single {
                tokens.append(Token(kind: kind, column: column, text: String(c)))
                i += 1
            } else if isDigit(c) || (c == "." && i + 1 < chars.count && isDigit(chars[i + 1])) {
                var j = i
                while j < chars.count, isDigit(chars[j]) || chars[j] == "." { j += 1 }
                if j < chars.count, chars[j] == "e" || chars[j] == "E" {
                    var k = j + 1
                    if k < chars.count, chars[k] == "+" || chars[k] == "-" { k += 1 }
                    if k < chars.count, isDigit(chars[k]) {
                        j = k
                        while j < chars.count, isDigit(chars[j]) { j += 1 }
                    }
                }
                let text = String(chars[i..<j])
                guard let value = Double(text), value.isFinite else {
                    throw ExpressionError(message: "malformed number '\(text)'", column: column, source: source)
                }
                tokens.append(Token(kind: .number(value), column: column, text: text))
                i = j
            } else if isNameStart(c) {
                var j = i
                while j < chars.count, isNamePart(chars[j]) { j += 1 }
                let text = String(chars[i..<j])
                tokens.append(Token(kind: .name(text), column: column, text: text))
                i = j
            } else if c == "{" {
                guard let close = chars[i...].firstIndex(of: "}") else {
                    throw ExpressionError(message: "'{' has no closing '}'", column: column, source: source)
                }
                let text = String(chars[(i + 1)..<close])
                guard let first = text.first, isNameStart(first), text.last != "-",
                      text.allSatisfy({ isNamePart($0) || $0 == "-" }) else {
                    throw ExpressionError(message: "'{\(text)}' is not a name: a letter or '_', then letters, digits, '_' or '-'",
                                          column: column, source: source)
                }
                tokens.append(Token(kind: .quotedName(text), column: column, text: "{\(text)}"))
                i = close + 1
            } else {
                throw ExpressionError(message: "unexpected character '\(c)'", column: column, source: source)
            }
        }
        tokens.append(Token(kind: .end, column: chars.count + 1, text: ""))
    }

    var current: Token { tokens[position] }
    var next: Token { tokens[min(position + 1, tokens.count - 1)] }

    func fail(_ message: String, at column: Int) -> ExpressionError {
        ExpressionError(message: message, column: column, source: source)
    }

    mutating func parseAll() throws -> LatentExpression {
        let start = current.column
        let value = try parseExpr()
        guard current.kind == .end else {
            throw fail("unexpected '\(current.text)'; expected +, -, *, / or the end", at: current.column)
        }
        guard case .latent(let e) = value else {
            throw fail("the expression is a number, not a latent", at: start)
        }
        return e
    }

    /// Enters one nesting level at `column`; `leave()` when done.
    mutating func enter(at column: Int) throws {
        depth += 1
        guard depth <= LatentExpression.maxDepth else {
            throw fail("nesting is deeper than \(LatentExpression.maxDepth) levels (parentheses, mean( and unary signs each count one); simplify the expression", at: column)
        }
    }

    mutating func leave() { depth -= 1 }

    /// A folded constant, refused when it left Double's range (`1e300*1e300`).
    func finite(_ x: Double, at column: Int) throws -> Double {
        guard x.isFinite else { throw fail("the constant overflows to \(x)", at: column) }
        return x
    }

    /// `e` times `s`, one scale however many factors were written (`a*2*3` is `6*a`), so
    /// that a chain of factors does not nest.
    func scaled(_ e: LatentExpression, _ s: Double, at column: Int) throws -> Value {
        if case let .scale(inner, k) = e {
            return .latent(.scale(inner, try finite(k * s, at: column)))
        }
        return .latent(.scale(e, s))
    }

    mutating func parseExpr() throws -> Value {
        var left = try parseTerm()
        while current.kind == .plus || current.kind == .minus {
            let op = current
            position += 1
            let right = try parseTerm()
            switch (left, right) {
            case let (.number(x), .number(y)): left = .number(try finite(op.kind == .plus ? x + y : x - y, at: op.column))
            case let (.latent(a), .latent(b)): left = .latent(op.kind == .plus ? .sum(a, b) : .difference(a, b))
            default:
                throw fail("cannot add a number and a latent; numbers only scale latents (use '*')", at: op.column)
            }
        }
        return left
    }

    mutating func parseTerm() throws -> Value {
        var left = try parseUnary()
        while current.kind == .star || current.kind == .slash {
            let op = current
            position += 1
            let rightColumn = current.column
            let right = try parseUnary()
            if op.kind == .star {
                switch (left, right) {
                case let (.number(x), .number(y)): left = .number(try finite(x * y, at: op.column))
                case let (.number(s), .latent(e)), let (.latent(e), .number(s)): left = try scaled(e, s, at: op.column)
                case (.latent, .latent):
                    throw fail("cannot multiply two latents; one side of '*' must be a number", at: op.column)
                }
            } else {
                guard case .number(let d) = right else {
                    throw fail("'/' must be followed by a number", at: rightColumn)
                }
                guard d != 0 else { throw fail("division by zero", at: rightColumn) }
                switch left {
                case .number(let x): left = .number(try finite(x / d, at: op.column))
                case .latent(let e): left = try scaled(e, 1 / d, at: op.column)
                }
            }
        }
        return left
    }

    mutating func parseUnary() throws -> Value {
        let sign = current
        guard sign.kind == .minus || sign.kind == .plus else { return try parsePrimary() }
        position += 1
        try enter(at: sign.column)
        defer { leave() }
        let operand = try parseUnary()
        guard sign.kind == .minus else { return operand }
        switch operand {
        case .number(let x): return .number(-x)
        case .latent(let e): return .latent(.negate(e))
        }
    }

    /// Counts an atom against `maxAtoms`.
    mutating func atom(_ atom: LatentAtom, at column: Int) throws -> Value {
        atomCount += 1
        guard atomCount <= LatentExpression.maxAtoms else {
            throw fail("the expression names more than \(LatentExpression.maxAtoms) latents (seeds and names); split it up", at: column)
        }
        return .latent(.atom(atom))
    }

    mutating func parsePrimary() throws -> Value {
        let token = current
        switch token.kind {
        case .number(let x):
            position += 1
            return .number(x)
        case .open:
            position += 1
            try enter(at: token.column)
            defer { leave() }
            let inner = try parseExpr()
            guard current.kind == .close else { throw fail("expected ')'", at: current.column) }
            position += 1
            return inner
        case .name("mean") where next.kind == .open:
            position += 2
            try enter(at: token.column)
            defer { leave() }
            var items: [LatentExpression] = []
            while true {
                let column = current.column
                guard case .latent(let e) = try parseExpr() else {
                    throw fail("mean(...) takes latents, not numbers", at: column)
                }
                items.append(e)
                if current.kind == .comma { position += 1; continue }
                guard current.kind == .close else { throw fail("expected ',' or ')'", at: current.column) }
                position += 1
                return .latent(.mean(items))
            }
        case .name("seed") where next.kind == .colon:
            position += 2
            let seedToken = current
            guard case .number = seedToken.kind else {
                throw fail("expected a seed number after 'seed:'", at: seedToken.column)
            }
            guard let seed = UInt64(seedToken.text) else {
                throw fail("a seed must be a whole number from 0 to \(UInt64.max)", at: seedToken.column)
            }
            position += 1
            return try atom(.seed(seed), at: token.column)
        case .name(let name), .quotedName(let name):
            position += 1
            return try atom(.name(name), at: token.column)
        default:
            throw fail("expected a latent, a number or '('", at: token.column)
        }
    }
}
