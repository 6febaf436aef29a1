import Foundation

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (name -> {dtype, shape, data_offsets: [begin, end]} relative to the data section, plus an
/// optional "__metadata__" map of strings), then the raw little-endian data.
public enum SafeTensors {
    /// Reads and validates every tensor; float types are converted to float32.
    public static func read(_ url: URL) throws -> [(name: String, record: TensorRecord)] {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw ModelError.cannotRead(path: url.path, reason: error.localizedDescription)
        }
        return try decode(data, path: url.path)
    }

    /// The reference implementation's limit on the header (HeaderTooLarge).
    static let maxHeaderLength = 100_000_000

    /// Refuses what huggingface/safetensors refuses (`SafeTensors::read_metadata` and
    /// `Metadata::validate`): a header over 100 MB or not starting with '{', duplicate keys,
    /// tensors that are not laid out back to back from offset 0 (InvalidOffset), a data
    /// section longer or shorter than the tensors (MetadataIncompleteBuffer), a size that
    /// does not match its dtype and shape, and a `__metadata__` that is not a map of strings.
    /// Every size is checked against the file before anything is allocated.
    public static func decode(_ data: Data, path: String) throws -> [(name: String, record: TensorRecord)] {
        func fail(_ reason: String) -> ModelError { .badWeights(path: path, reason: reason) }
        guard data.count >= 8 else { throw fail("file is \(data.count) bytes, too short for the 8-byte header length") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(data.count) bytes); the file is truncated or not safetensors")
        }
        guard headerLength <= UInt64(maxHeaderLength) else {
            throw fail("header length \(headerLength) is over the format's limit of \(maxHeaderLength) bytes")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = [UInt8](data.subdata(in: 8..<headerEnd))
        let header: JSONValue
        do { header = try JSONDecoder().decode(JSONValue.self, from: Data(headerBytes)) } catch {
            throw fail("header is not valid JSON (\(jsonErrorSummary(error)))")
        }
        guard case .object(let entries) = header, headerBytes.first == UInt8(ascii: "{") else {
            throw fail("header must be a JSON object starting with '{' at byte 8")
        }
        if let (key, offset) = JSONValue.firstDuplicateKey(in: headerBytes) {
            throw fail("header repeats the key \"\(key)\" (at byte \(8 + offset)); each tensor and field must appear once")
        }
        if let metadata = entries["__metadata__"] {
            guard case .object(let m) = metadata, m.values.allSatisfy({ if case .string = $0 { return true } else { return false } }) else {
                throw fail("\"__metadata__\" must map names to strings")
            }
        }
        let dataSize = data.count - headerEnd
        var specs: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        for (name, entry) in entries where name != "__metadata__" {
            guard case .object(let e) = entry,
                  case .string(let dtypeName)? = e["dtype"],
                  case .array(let shapeValues)? = e["shape"],
                  case .array(let offsetValues)? = e["data_offsets"], offsetValues.count == 2 else {
                throw fail("tensor '\(name)': entry needs dtype, shape and data_offsets [begin, end]")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)': unsupported dtype \(dtypeName)")
            }
            var shape: [Int] = []
            for v in shapeValues {
                guard case .number(let d) = v, d >= 0, d == d.rounded(), d < 1e12 else {
                    throw fail("tensor '\(name)': shape must hold non-negative integers")
                }
                shape.append(Int(d))
            }
            let offsets = try offsetValues.map { v -> Int in
                guard case .number(let d) = v, d >= 0, d == d.rounded(), d <= Double(Int.max / 2) else {
                    throw fail("tensor '\(name)': data_offsets must be non-negative integers")
                }
                return Int(d)
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= dataSize else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the \(dataSize)-byte data section")
            }
            var count = 1
            for d in shape {
                let (m, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, m <= dataSize else { throw fail("tensor '\(name)': shape \(shape) is larger than the file") }
                count = m
            }
            guard count * dtype.byteSize == end - begin else {
                throw fail("tensor '\(name)': \(dtype.rawValue) \(shape) needs \(count * dtype.byteSize) bytes, data_offsets give \(end - begin)")
            }
            specs.append((name, dtype, shape, begin, end))
        }
        // Back to back from 0 in offset order, covering the data section exactly.
        specs.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        for (k, spec) in specs.enumerated() {
            guard spec.begin == covered else {
                let previous = k == 0 ? "the data section starts at 0" : "the previous tensor '\(specs[k - 1].name)' ends at \(covered)"
                throw fail("tensor '\(spec.name)': data_offsets [\(spec.begin), \(spec.end)] start at \(spec.begin), but \(previous); tensors must lie back to back, without \(spec.begin < covered ? "overlaps" : "gaps")")
            }
            covered = spec.end
        }
        guard covered == dataSize else {
            throw fail("the data section is \(dataSize) bytes but the tensors cover only \(covered); the last \(dataSize - covered) bytes belong to no tensor")
        }
        return specs.map { spec in
            let count = spec.shape.reduce(1, *)
            let values = data.withUnsafeBytes { raw in
                decodeFloats(UnsafeRawBufferPointer(rebasing: raw[(headerEnd + spec.begin)..<(headerEnd + spec.end)]), dtype: spec.dtype, count: count)
            }
            return (spec.name, TensorRecord(dtype: spec.dtype, shape: spec.shape, values: values))
        }
    }

    /// Encodes float32 tensors in the given order; the header is padded to 8 bytes.
    public static func encode(_ tensors: [(name: String, record: TensorRecord)],
                              metadata: [String: String] = [:]) -> Data {
        var entries: [String: JSONValue] = [:]
        var offset = 0
        for (name, record) in tensors {
            let bytes = record.values.count * 4
            entries[name] = .object(["dtype": .string("F32"),
                                     "shape": .array(record.shape.map { .number(Double($0)) }),
                                     "data_offsets": .array([.number(Double(offset)), .number(Double(offset + bytes))])])
            offset += bytes
        }
        if !metadata.isEmpty { entries["__metadata__"] = .object(metadata.mapValues { .string($0) }) }
        var header = Array(JSONWriter.compact(.object(entries)).utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (_, record) in tensors {
            record.values.withUnsafeBufferPointer { buffer in
                // float32 little-endian on every platform Forger supports (x86-64, arm64).
                out.append(UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                               count: buffer.count * 4))
            }
        }
        return out
    }
}
