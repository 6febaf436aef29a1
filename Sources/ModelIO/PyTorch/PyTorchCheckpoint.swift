import Foundation

/// Reads the tensors of a PyTorch `state_dict` saved with `torch.save`, natively and safely.
///
/// Two containers are read: the zip archive of torch >= 1.6 (`<archive>/data.pkl` plus one entry
/// per storage under `<archive>/data/<key>`) and the legacy stream of earlier versions (five
/// pickles, then the raw storages). The pickles go through `Unpickler`, which runs no code and
/// accepts only what a state_dict needs. Not read, deliberately: whole pickled models
/// (`torch.save(model)`), TorchScript archives, quantized or sparse tensors, big-endian files.
public enum PyTorchCheckpoint {
    /// How deep `key` lookups and the search for nested state_dicts go.
    static let maxSearchDepth = 16

    /// Reads a torch.save file (zip container, torch >= 1.6, or legacy pre-1.6 stream) and returns
    /// the tensors of a state_dict, in file order. `key` selects a nested dict entry (e.g. "netG",
    /// or dotted "state.generator") when the checkpoint is a dict holding the state_dict under a key.
    public static func read(_ url: URL, key: String? = nil) throws -> [(name: String, record: TensorRecord)] {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: url))
        } catch {
            throw CheckpointError(.io, path: url.path, "the file cannot be read (\(error.localizedDescription))",
                                  hint: "Check the path and its permissions.")
        }
        return try read(bytes: bytes, path: url.path, key: key)
    }

    /// As `read(_:key:)`, for bytes already in memory; `path` names them in messages.
    public static func read(bytes: [UInt8], path: String, key: String? = nil) throws -> [(name: String, record: TensorRecord)] {
        let fail = CheckpointErrors(path: path)
        let arena = PickleArena()
        defer { arena.tearDown() }

        let root: PickleValue
        let storages: StorageSource
        if ZipArchive.isZip(bytes) {
            (root, storages) = try ZipCheckpoint.load(bytes: bytes, path: path, arena: arena)
        } else if bytes.first == 0x80 {
            (root, storages) = try LegacyCheckpoint.load(bytes: bytes, path: path, arena: arena)
        } else {
            throw fail(.notACheckpoint, at: "byte 0", "this is not a torch.save file: it starts neither with a zip header nor with a pickle",
                       hint: notCheckpointHint(bytes))
        }

        let tensors = try select(root, key: key, fail: fail)
        // Strided views (stride 0) can describe more elements than the file holds; cap the total.
        var budget = 4 * bytes.count + (1 << 20)
        return try tensors.map { name, spec in
            guard spec.count <= budget else {
                throw fail(.limitExceeded, at: "tensor '\(name)'",
                           "the tensors expand to more elements than a \(bytes.count)-byte file can sensibly hold",
                           hint: "The file may be damaged or hostile; re-save the state_dict with contiguous tensors.")
            }
            budget -= spec.count
            return (name, try storages.record(spec, name: name))
        }
    }

    /// One `name  dtype  shape` line per tensor, columns aligned (for `forger import --list`).
    public static func describe(_ tensors: [(name: String, record: TensorRecord)]) -> String {
        let width = tensors.map(\.name.count).max() ?? 0
        let dwidth = tensors.map(\.record.dtype.rawValue.count).max() ?? 0
        return tensors.map { name, record in
            let shape = "(" + record.shape.map(String.init).joined(separator: ", ") + ")"
            return name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + record.dtype.rawValue.padding(toLength: dwidth, withPad: " ", startingAt: 0) + "  " + shape
        }.joined(separator: "\n")
    }

    private static func notCheckpointHint(_ bytes: [UInt8]) -> String {
        if bytes.count > 262, String(decoding: bytes[257..<262], as: UTF8.self) == "ustar" {
            return "It is a tar archive, the format of torch < 0.4; load and re-save it with a newer torch."
        }
        if bytes.count > 9, bytes[8] == UInt8(ascii: "{") {
            return "It looks like a safetensors file; read it with the safetensors importer instead."
        }
        return "Pass a file written by torch.save (.pt, .pth, .ckpt)."
    }

    // MARK: - Choosing the state_dict

    /// The (name, tensor) entries of a dict whose values are all tensors; nil for anything else.
    static func tensorEntries(_ v: PickleValue) -> [(String, TensorSpec)]? {
        guard case .dict(let d) = v else { return nil }
        var out: [(String, TensorSpec)] = []
        for (k, v) in d.entries {
            guard case .string(let name) = k, case .tensor(let t) = v else { return nil }
            out.append((name, t))
        }
        return out
    }

    static func select(_ root: PickleValue, key: String?, fail: CheckpointErrors) throws -> [(String, TensorSpec)] {
        var value = root
        var here = "the top level"
        if let key {
            value = try lookup(root, path: key, fail: fail)
            here = "key '\(key)'"
        }
        if let entries = tensorEntries(value) {
            if case .dict(let d) = value, d.entries.isEmpty, key == nil { return [] }
            if !entries.isEmpty { return entries }
        }
        guard case .dict(let d) = value else {
            throw fail(.key, at: here, "holds \(value.withArticle), not a dict of tensors",
                       hint: "A state_dict is expected: torch.save(model.state_dict(), path).")
        }
        let found = tensorDicts(value)
        let keys = d.entries.map { k, _ in if case .string(let s) = k { return s } else { return "<\(k.typeName)>" } }
        let prefix = key.map { $0 + "." } ?? ""
        guard !found.isEmpty else {
            throw fail(.key, at: here, "is a dict (keys: \(list(keys))) but neither it nor anything inside it is a dict of tensors",
                       hint: "This checkpoint holds no state_dict.")
        }
        let choices = found.map { "\(prefix)\($0.path) (\($0.count) tensors)" }
        throw fail(.key, at: here, "is a dict (keys: \(list(keys))) that holds state_dicts under: \(choices.joined(separator: ", "))",
                   hint: "Choose one with --key, e.g. --key \(prefix)\(found[0].path).")
    }

    private static func list(_ keys: [String]) -> String {
        keys.count <= 12 ? keys.joined(separator: ", ") : keys.prefix(12).joined(separator: ", ") + ", ... (\(keys.count) in all)"
    }

    /// Follows a dotted key. Keys may themselves hold dots ("0.weight"), so at each level the
    /// longest prefix that is a key of the dict wins.
    static func lookup(_ root: PickleValue, path: String, fail: CheckpointErrors) throws -> PickleValue {
        var value = root
        var rest = Substring(path)
        var walked: [String] = []
        while !rest.isEmpty {
            guard walked.count < maxSearchDepth else {
                throw fail(.limitExceeded, at: "key '\(path)'", "the key is nested more than \(maxSearchDepth) levels deep", hint: "")
            }
            let place = walked.isEmpty ? "the top level" : "key '\(walked.joined(separator: "."))'"
            guard case .dict(let d) = value else {
                throw fail(.key, at: place, "holds \(value.withArticle), so it has no key '\(rest)'",
                           hint: "Run without --key to list the keys that hold state_dicts.")
            }
            var cut: Substring.Index? = rest.endIndex
            var hit: PickleValue? = nil
            while let c = cut {
                if let v = d.value(forKey: String(rest[..<c])) { hit = v; break }
                cut = rest[..<c].lastIndex(of: ".")
            }
            guard let v = hit, let c = cut else {
                let keys = d.entries.compactMap { k, _ -> String? in if case .string(let s) = k { return s } else { return nil } }
                throw fail(.key, at: place, "has no key '\(rest.split(separator: ".").first ?? rest)' (its keys: \(list(keys)))",
                           hint: "Run without --key to list the keys that hold state_dicts.")
            }
            walked.append(String(rest[..<c]))
            value = v
            rest = c == rest.endIndex ? "" : rest[rest.index(after: c)...]
        }
        return value
    }

    /// Dotted paths (below `root`) of the dicts made only of tensors, breadth first, with cycles
    /// and depth bounded.
    static func tensorDicts(_ root: PickleValue) -> [(path: String, count: Int)] {
        var found: [(String, Int)] = []
        var seen = Set<ObjectIdentifier>()
        var level: [(String, PickleValue)] = [("", root)]
        for _ in 0..<maxSearchDepth where !level.isEmpty && found.count < 50 {
            var next: [(String, PickleValue)] = []
            for (path, value) in level {
                guard case .dict(let d) = value, seen.insert(ObjectIdentifier(d)).inserted else { continue }
                for (k, v) in d.entries {
                    guard case .string(let s) = k else { continue }
                    let p = path.isEmpty ? s : path + "." + s
                    if let t = tensorEntries(v), !t.isEmpty { found.append((p, t.count)) } else { next.append((p, v)) }
                }
            }
            level = next
        }
        return found
    }
}

// MARK: - Storages

/// Where the bytes of each storage come from: zip entries or spans of a legacy stream.
protocol StorageSource: AnyObject {
    /// The raw little-endian bytes of a storage, a whole number of `ref.dtype` elements.
    func bytes(of ref: StorageRef, tensor: String) throws -> ArraySlice<UInt8>
    var fail: CheckpointErrors { get }
}

extension StorageSource {
    /// Reads a tensor out of its storage: bounds checked, made contiguous, decoded to float32.
    func record(_ spec: TensorSpec, name: String) throws -> TensorRecord {
        let dtype = spec.storage.dtype, size = dtype.byteSize
        let raw = try bytes(of: spec.storage, tensor: name)
        let available = raw.count / size
        guard spec.count > 0 else { return TensorRecord(dtype: dtype, shape: spec.shape, values: []) }

        // The last element the view touches must lie inside the storage.
        var last = spec.offset
        for (n, s) in zip(spec.shape, spec.stride) {
            let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { last = Int.max; break }
            last = sum
        }
        guard last < available else {
            throw fail(.badTensor, at: "tensor '\(name)'",
                       "shape \(spec.shape) with strides \(spec.stride) at offset \(spec.offset) reads element \(last == Int.max ? "beyond 2^63" : String(last)), but storage '\(spec.storage.key)' holds only \(available) \(dtype.rawValue) elements (the storage is shorter than the tensor)",
                       hint: CheckpointHint.corrupt)
        }

        var contiguous: [Int] = Array(repeating: 1, count: spec.shape.count)
        for i in stride(from: spec.shape.count - 2, through: 0, by: -1) { contiguous[i] = contiguous[i + 1] * spec.shape[i + 1] }
        let isContiguous = zip(zip(spec.shape, spec.stride), contiguous).allSatisfy { $0.0 == 1 || $0.1 == $1 }

        let values: [Float]
        if isContiguous {
            let start = raw.startIndex + spec.offset * size
            values = raw[start..<(start + spec.count * size)].withUnsafeBytes { decodeFloats($0, dtype: dtype, count: spec.count) }
        } else {
            // Gather the view's elements in row-major order, then decode them in one pass.
            var packed = [UInt8](repeating: 0, count: spec.count * size)
            var index = [Int](repeating: 0, count: spec.shape.count)
            var source = spec.offset
            raw.withUnsafeBytes { src in
                packed.withUnsafeMutableBytes { dst in
                    for e in 0..<spec.count {
                        dst.baseAddress!.advanced(by: e * size).copyMemory(from: src.baseAddress!.advanced(by: source * size), byteCount: size)
                        var d = spec.shape.count - 1
                        while d >= 0 {
                            index[d] += 1; source += spec.stride[d]
                            if index[d] < spec.shape[d] { break }
                            source -= spec.stride[d] * index[d]; index[d] = 0
                            d -= 1
                        }
                    }
                }
            }
            values = packed.withUnsafeBytes { decodeFloats($0, dtype: dtype, count: spec.count) }
        }
        return TensorRecord(dtype: dtype, shape: spec.shape, values: values)
    }
}

/// Checks a persistent id ('storage', <storage type>, key, location, count, ...) and returns
/// its parts; shared by both containers.
func storageID(_ pid: PickleValue, offset: Int, label: String, fail: CheckpointErrors) throws
    -> (dtype: DType, key: String, count: Int, rest: [PickleValue])
{
    let here = "\(label), byte \(offset)"
    guard case .tuple(let t) = pid, t.items.count >= 5 else {
        throw fail(.badPickle, at: here, "a persistent id is \(pid.withArticle) of unexpected form, not ('storage', type, key, location, size)",
                   hint: CheckpointHint.resave)
    }
    guard case .string(let kind) = t.items[0], kind == "storage" else {
        let what: String
        if case .string(let s) = t.items[0] { what = "'\(s)'" } else { what = t.items[0].withArticle }
        throw fail(.refusedGlobal, at: here, "a persistent id names \(what), not a storage (a pickled module or other object)",
                   hint: CheckpointHint.resave)
    }
    guard case .global(.storageType(let dtype)) = t.items[1] else {
        throw fail(.badPickle, at: here, "a persistent id's storage type is \(t.items[1].withArticle), not a torch.*Storage",
                   hint: CheckpointHint.resave)
    }
    guard case .string(let key) = t.items[2], case .int(let count) = t.items[4], count >= 0 else {
        throw fail(.badPickle, at: here, "a persistent id has no string key or no valid element count", hint: CheckpointHint.corrupt)
    }
    return (dtype, key, count, Array(t.items.dropFirst(5)))
}
