import Foundation
import Safety

/// NumPy `.npy` files (format 1.0/2.0/3.0), float32 little-endian, C order: the numeric
/// interface between Forger and Python users.
public enum NPY {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Reads a float32 C-order array. `<f8` is accepted and narrowed; anything else is refused.
    public static func read(_ url: URL) throws -> Tensor {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw Failure(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        return try decode(bytes, path: url.path)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws -> Tensor {
        func fail(_ reason: String) -> Failure { Failure(path: path, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail("not a NumPy .npy file (bad magic; expected \\x93NUMPY at byte 0)")
        }
        let major = bytes[6], minor = bytes[7]
        guard [1, 2, 3].contains(major), minor == 0 else {
            throw fail("unsupported .npy format version \(major).\(minor) (numpy writes 1.0, 2.0 and 3.0)")
        }
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        guard headerLength <= maxHeaderLength else {
            throw fail("header length \(headerLength) is over numpy's limit of \(maxHeaderLength) bytes")
        }
        guard headerStart + headerLength <= bytes.count else {
            throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        var parser = HeaderParser(bytes: Array(bytes[headerStart..<(headerStart + headerLength)]), fileOffset: headerStart)
        let header: Header
        do { header = try parser.parse() } catch let e as HeaderParser.Failure { throw fail(e.reason) }
        if header.fortranOrder {
            throw fail("array is in Fortran order; save it with np.ascontiguousarray(a) first")
        }
        let itemSize: Int
        switch header.descr {
        case "<f4", "float32": itemSize = 4
        case "<f8", "float64": itemSize = 8
        default:
            throw fail("dtype '\(header.descr)' is not supported; convert with a.astype(np.float32)")
        }
        let shape = header.shape
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d); return (m, acc.1 || o)
        }
        let dataStart = headerStart + headerLength
        guard !overflow, count <= (bytes.count - dataStart) / itemSize, count * itemSize == bytes.count - dataStart else {
            throw fail("shape \(shape) needs \(overflow ? "too many" : String(count * itemSize)) bytes of data, file has \(bytes.count - dataStart)")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                if itemSize == 4 {
                    values[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: UInt32.self).littleEndian)
                } else {
                    values[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: dataStart + 8 * i, as: UInt64.self).littleEndian))
                }
            }
        }
        return Tensor(shape: shape, data: values)
    }

    public static func encode(_ tensor: Tensor) -> [UInt8] {
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)"
            : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        let length = header.utf8.count
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + 4 * tensor.count)
        for v in tensor.data {
            let b = v.bitPattern.littleEndian
            out += [UInt8(b & 0xFF), UInt8((b >> 8) & 0xFF), UInt8((b >> 16) & 0xFF), UInt8(b >> 24)]
        }
        return out
    }

    /// Writes atomically: a temporary file beside the target, then a rename.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try AtomicFile.write(encode(tensor), to: url)
    }

    /// numpy's `max_header_size`: longer headers are refused by `np.load` too.
    static let maxHeaderLength = 10_000
    /// numpy's limit on dimensions (NPY_MAXDIMS).
    static let maxDimensions = 64

    struct Header {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]
    }

    /// The header's dict literal, parsed as numpy reads it (`ast.literal_eval`, then exactly the
    /// keys descr, fortran_order and shape; shape a tuple of ints) but narrower: only the Python
    /// syntax numpy writes is accepted (quoted strings without escapes, True/False, tuples of
    /// decimal non-negative ints, trailing commas, spaces and a final newline). What numpy would
    /// also take but never writes (duplicate keys, bools or negative numbers in the shape,
    /// comments, hex) is refused, and so is anything numpy refuses (`(3,, 16)`, extra keys, NUL).
    struct HeaderParser {
        struct Failure: Error { let reason: String }

        let bytes: [UInt8]
        /// Where the header starts in the file, for messages.
        let fileOffset: Int
        var i = 0

        init(bytes: [UInt8], fileOffset: Int) {
            self.bytes = bytes
            self.fileOffset = fileOffset
        }

        func fail(_ what: String, at index: Int? = nil) -> Failure {
            let k = index ?? i
            let found: String
            if k >= bytes.count { found = "the end of the header" } else {
                let b = bytes[k]
                found = (0x20..<0x7F).contains(b) ? "'\(Character(UnicodeScalar(b)))'" : String(format: "byte 0x%02X", b)
            }
            return Failure(reason: "header is not the dict numpy writes: \(what) at file offset \(fileOffset + k), found \(found)")
        }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func expect(_ c: UInt8, _ what: String) throws {
            skipSpace()
            guard i < bytes.count, bytes[i] == c else { throw fail("expected \(what)") }
            i += 1
        }

        /// True when the next non-space byte is `c` (not consumed).
        mutating func peek(_ c: UInt8) -> Bool {
            skipSpace()
            return i < bytes.count && bytes[i] == c
        }

        mutating func string() throws -> String {
            skipSpace()
            guard i < bytes.count, bytes[i] == 0x27 || bytes[i] == 0x22 else { throw fail("expected a quoted string") }
            let quote = bytes[i], start = i + 1
            i += 1
            while i < bytes.count, bytes[i] != quote {
                guard (0x20..<0x7F).contains(bytes[i]), bytes[i] != 0x5C else {
                    throw fail("expected printable ASCII without backslashes inside a string")
                }
                i += 1
            }
            guard i < bytes.count else { throw fail("expected the string opened at file offset \(fileOffset + start - 1) to end") }
            i += 1
            return String(decoding: bytes[start..<(i - 1)], as: UTF8.self)
        }

        mutating func word(_ w: String) -> Bool {
            let u = Array(w.utf8)
            guard i + u.count <= bytes.count, Array(bytes[i..<(i + u.count)]) == u else { return false }
            let after = i + u.count
            if after < bytes.count, bytes[after] == 0x5F || (bytes[after] | 0x20 >= 0x61 && bytes[after] | 0x20 <= 0x7A)
                || (0x30...0x39).contains(bytes[after]) { return false }
            i = after
            return true
        }

        mutating func bool() throws -> Bool {
            skipSpace()
            if word("True") { return true }
            if word("False") { return false }
            throw fail("expected True or False")
        }

        /// A decimal int as Python writes it: 0, or digits without a leading zero.
        mutating func int() throws -> Int {
            skipSpace()
            let start = i
            var value = 0
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int(bytes[i] - 0x30))
                guard !o1, !o2 else { throw fail("expected a dimension below 2^63", at: start) }
                value = a
                i += 1
            }
            guard i > start else { throw fail("expected a non-negative whole number") }
            guard i - start == 1 || bytes[start] != 0x30 else { throw fail("expected a number without leading zeros", at: start) }
            return value
        }

        /// `()`, `(N,)` or `(N, M, ...)` with an optional trailing comma; `(N)` is an int in
        /// Python, not a tuple, and numpy refuses it.
        mutating func shape() throws -> [Int] {
            try expect(0x28, "'(' opening the shape tuple")
            var dims: [Int] = []
            if peek(0x29) { i += 1; return dims }
            while true {
                dims.append(try int())
                guard dims.count <= maxDimensions else { throw fail("expected at most \(maxDimensions) dimensions") }
                if peek(0x2C) {
                    i += 1
                    if peek(0x29) { i += 1; return dims }
                    continue
                }
                guard dims.count > 1 else { throw fail("expected ',' after the only dimension (a 1-D shape is written (N,))") }
                try expect(0x29, "')' closing the shape tuple")
                return dims
            }
        }

        mutating func parse() throws -> Header {
            var descr: String?, fortran: Bool?, shape: [Int]?
            try expect(0x7B, "'{' opening the header dict")
            while !peek(0x7D) {
                let keyStart = i
                let key = try string()
                try expect(0x3A, "':' after the key '\(key)'")
                switch key {
                case "descr" where descr == nil: descr = try string()
                case "fortran_order" where fortran == nil: fortran = try bool()
                case "shape" where shape == nil: shape = try self.shape()
                case "descr", "fortran_order", "shape": throw fail("expected each key once; '\(key)' is repeated", at: keyStart)
                default: throw fail("expected only the keys 'descr', 'fortran_order' and 'shape'; '\(key)' is not one", at: keyStart)
                }
                if peek(0x2C) { i += 1; continue }
                guard peek(0x7D) else { throw fail("expected ',' or '}' after the value of '\(key)'") }
            }
            i += 1
            skipSpace()
            guard i == bytes.count else { throw fail("expected only spaces and a newline after the dict") }
            guard let descr else { throw fail("expected the key 'descr' before the dict closes", at: i - 1) }
            guard let fortran else { throw fail("expected the key 'fortran_order' before the dict closes", at: i - 1) }
            guard let shape else { throw fail("expected the key 'shape' before the dict closes", at: i - 1) }
            return Header(descr: descr, fortranOrder: fortran, shape: shape)
        }
    }
}
