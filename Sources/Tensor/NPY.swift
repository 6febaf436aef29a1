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
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else {
            throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: header) else { throw fail("header has no 'descr': \(header)") }
        guard let fortran = field("fortran_order", in: header) else { throw fail("header has no 'fortran_order'") }
        guard let shapeText = field("shape", in: header) else { throw fail("header has no 'shape'") }
        if fortran != "False" {
            throw fail("array is in Fortran order; save it with np.ascontiguousarray(a) first")
        }
        let itemSize: Int
        switch descr {
        case "'<f4'", "'float32'": itemSize = 4
        case "'<f8'", "'float64'": itemSize = 8
        default:
            throw fail("dtype \(descr) is not supported; convert with a.astype(np.float32)")
        }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d), v >= 0 else { throw fail("bad dimension '\(d)' in shape \(shapeText)") }
            shape.append(v)
        }
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

    private static func field(_ key: String, in header: String) -> String? {
        guard let r = header.range(of: "'\(key)':") else { return nil }
        var rest = header[r.upperBound...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        rest = rest.prefix { $0 != "," && $0 != "}" }
        return rest.trimmingCharacters(in: .whitespaces)
    }
}
