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

    public static func decode(_ data: Data, path: String) throws -> [(name: String, record: TensorRecord)] {
        func fail(_ reason: String) -> ModelError { .badWeights(path: path, reason: reason) }
        guard data.count >= 8 else { throw fail("file is \(data.count) bytes, too short for the 8-byte header length") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(data.count) bytes); the file is truncated or not safetensors")
        }
        let headerEnd = 8 + Int(headerLength)
        let header: JSONValue
        do { header = try JSONDecoder().decode(JSONValue.self, from: data.subdata(in: 8..<headerEnd)) } catch {
            throw fail("header is not valid JSON (\(jsonErrorSummary(error)))")
        }
        guard case .object(let entries) = header else { throw fail("header must be a JSON object") }
        let dataSize = data.count - headerEnd
        var spans: [(begin: Int, end: Int, name: String)] = []
        var result: [(name: String, record: TensorRecord)] = []
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
            spans.append((begin, end, name))
            let values = data.withUnsafeBytes { raw in
                decodeFloats(UnsafeRawBufferPointer(rebasing: raw[(headerEnd + begin)..<(headerEnd + end)]), dtype: dtype, count: count)
            }
            result.append((name, TensorRecord(dtype: dtype, shape: shape, values: values)))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(spans, spans.dropFirst()) where b.begin < a.end {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap in the data section")
        }
        let order = Dictionary(uniqueKeysWithValues: spans.enumerated().map { ($1.name, $0) })
        return result.sorted { order[$0.name]! < order[$1.name]! }
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
