/// The two containers torch.save writes, each reading its pickle and serving its storages.

/// torch >= 1.6: a zip with `<archive>/data.pkl` and one entry per storage, `<archive>/data/<key>`.
final class ZipCheckpoint: StorageSource {
    let zip: ZipArchive
    /// "<archive>/", the folder holding data.pkl; its name varies with the saved file's name.
    let prefix: String
    let fail: CheckpointErrors
    private var cache: [String: [UInt8]] = [:]

    private init(zip: ZipArchive, prefix: String, fail: CheckpointErrors) {
        self.zip = zip; self.prefix = prefix; self.fail = fail
    }

    static func load(bytes: [UInt8], path: String, arena: PickleArena) throws -> (PickleValue, StorageSource) {
        let fail = CheckpointErrors(path: path)
        let zip = try ZipArchive(bytes: bytes, path: path)
        guard let pkl = zip.entries.first(where: { e in
            e.name.hasSuffix("/data.pkl") && e.name.dropLast("/data.pkl".count).firstIndex(of: "/") == nil
        }) else {
            let names = zip.entries.prefix(5).map(\.name).joined(separator: ", ")
            throw fail(.missingEntry, at: "zip entries: \(names)\(zip.entries.count > 5 ? ", ..." : "")",
                       "the zip has no '<archive>/data.pkl' entry, so it is not a torch.save archive", hint: "Pass a file written by torch.save.")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        if let order = zip.entry(named: prefix + "byteorder") {
            let text = String(decoding: try zip.read(order), as: UTF8.self)
            guard text == "little" else {
                throw fail(.badZip, at: "zip entry '\(order.name)'", "the storages are stored '\(text)'-endian; only little-endian is read",
                           hint: "Re-save the checkpoint on a little-endian machine.")
            }
        }
        let source = ZipCheckpoint(zip: zip, prefix: prefix, fail: fail)
        let label = "zip entry '\(pkl.name)'"
        var unpickler = Unpickler(data: try zip.read(pkl), path: path, label: label, arena: arena) { pid, offset in
            let id = try storageID(pid, offset: offset, label: label, fail: fail)
            return .storage(StorageRef(key: id.key, dtype: id.dtype, count: id.count))
        }
        do {
            return (try unpickler.load(), source)
        } catch let error as CheckpointError where error.kind == .refusedGlobal && zip.entries.contains(where: { $0.name.hasPrefix(prefix + "code/") }) {
            var e = error
            e.hint = "This is a TorchScript archive (torch.jit.save), not a state_dict; save model.state_dict() with torch.save instead."
            throw e
        }
    }

    func bytes(of ref: StorageRef, tensor: String) throws -> ArraySlice<UInt8> {
        let name = prefix + "data/" + ref.key
        let data: [UInt8]
        if let cached = cache[ref.key] {
            data = cached
        } else {
            guard let entry = zip.entry(named: name) else {
                throw fail(.missingEntry, at: "tensor '\(tensor)'", "its storage entry '\(name)' is missing from the zip",
                           hint: CheckpointHint.corrupt)
            }
            data = try zip.read(entry)
            cache[ref.key] = data
        }
        guard data.count % ref.dtype.byteSize == 0 else {
            throw fail(.badTensor, at: "zip entry '\(name)'",
                       "the storage holds \(data.count) bytes, not a whole number of \(ref.dtype.rawValue) elements", hint: CheckpointHint.corrupt)
        }
        let declared = ref.count <= data.count / ref.dtype.byteSize ? ref.count * ref.dtype.byteSize : data.count
        return data[0..<declared]
    }
}

/// torch < 1.6 (and `_use_new_zipfile_serialization=False`): pickles for the magic number, the
/// protocol version and sys_info, then the object, then the list of storage keys, then for each
/// key an int64 element count and the raw little-endian elements.
final class LegacyCheckpoint: StorageSource {
    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19] // 0x1950a86a20f9469cfc6c
    let bytes: [UInt8]
    let fail: CheckpointErrors
    /// Element type of each root storage, from the persistent ids.
    private var dtypes: [String: DType] = [:]
    /// Where each root storage's elements lie in the file.
    private var spans: [String: Range<Int>] = [:]

    private init(bytes: [UInt8], fail: CheckpointErrors) { self.bytes = bytes; self.fail = fail }

    static func load(bytes: [UInt8], path: String, arena: PickleArena) throws -> (PickleValue, StorageSource) {
        let fail = CheckpointErrors(path: path)
        let source = LegacyCheckpoint(bytes: bytes, fail: fail)
        var pos = 0
        func next(_ what: String, persistent: ((PickleValue, Int) throws -> PickleValue)? = nil) throws -> PickleValue {
            var u = Unpickler(data: bytes, start: pos, path: path, label: "legacy stream, \(what) pickle", arena: arena) { pid, offset in
                guard let persistent else {
                    throw fail(.badPickle, at: "legacy stream, byte \(offset)", "the \(what) pickle holds a persistent id", hint: CheckpointHint.corrupt)
                }
                return try persistent(pid, offset)
            }
            let v = try u.load()
            pos = u.end
            return v
        }

        guard case .bigInt(let m) = try next("magic-number"), m == magic else {
            throw fail(.notACheckpoint, at: "byte 0", "the file is a pickle but does not start with torch.save's magic number",
                       hint: "Pass a file written by torch.save; plain pickles are not read.")
        }
        guard case .int(let version) = try next("protocol-version"), version == 1001 else {
            throw fail(.notACheckpoint, at: "byte \(pos)", "the legacy stream's protocol version is not 1001", hint: CheckpointHint.resave)
        }
        if case .dict(let info) = try next("sys_info"), case .bool(false)? = info.value(forKey: "little_endian") {
            throw fail(.notACheckpoint, at: "sys_info pickle", "the file was saved on a big-endian machine; only little-endian is read",
                       hint: "Re-save the checkpoint on a little-endian machine.")
        }
        let root = try next("main") { pid, offset in
            let id = try storageID(pid, offset: offset, label: "legacy stream", fail: fail)
            if let known = source.dtypes[id.key], known != id.dtype {
                throw fail(.badPickle, at: "legacy stream, byte \(offset)", "storage '\(id.key)' is named with two element types", hint: CheckpointHint.corrupt)
            }
            source.dtypes[id.key] = id.dtype
            // A view: (view key, element offset, element count) into the root storage.
            if let view = id.rest.first, case .tuple(let t) = view {
                guard t.items.count == 3, case .string(let viewKey) = t.items[0], case .int(let off) = t.items[1],
                      case .int(let n) = t.items[2], off >= 0, n >= 0 else {
                    throw fail(.badPickle, at: "legacy stream, byte \(offset)", "a storage view's metadata is malformed", hint: CheckpointHint.corrupt)
                }
                return .storage(StorageRef(key: viewKey, dtype: id.dtype, count: n, view: (id.key, off)))
            }
            return .storage(StorageRef(key: id.key, dtype: id.dtype, count: id.count))
        }

        let keysAt = pos
        guard case .list(let keyList) = try next("storage-keys") else {
            throw fail(.badPickle, at: "legacy stream, byte \(keysAt)", "the storage-key pickle is not a list", hint: CheckpointHint.corrupt)
        }
        for item in keyList.items {
            guard case .string(let key) = item, let dtype = source.dtypes[key] else {
                throw fail(.badPickle, at: "legacy stream, byte \(keysAt)", "the storage-key list names \(item) which no tensor uses",
                           hint: CheckpointHint.corrupt)
            }
            guard pos + 8 <= bytes.count else {
                throw fail(.truncated, at: "legacy stream, byte \(pos)", "the file ends before the size of storage '\(key)'", hint: CheckpointHint.corrupt)
            }
            var count: UInt64 = 0
            for i in 0..<8 { count |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
            pos += 8
            let left = bytes.count - pos
            guard count <= UInt64(left / dtype.byteSize) else {
                throw fail(.truncated, at: "legacy stream, byte \(pos - 8)",
                           "storage '\(key)' claims \(count) \(dtype.rawValue) elements but only \(left) bytes remain", hint: CheckpointHint.corrupt)
            }
            let n = Int(count) * dtype.byteSize
            source.spans[key] = pos..<(pos + n)
            pos += n
        }
        return (root, source)
    }

    func bytes(of ref: StorageRef, tensor: String) throws -> ArraySlice<UInt8> {
        let rootKey = ref.view?.root ?? ref.key
        guard let span = spans[rootKey] else {
            throw fail(.missingEntry, at: "tensor '\(tensor)'", "its storage '\(rootKey)' is not among the storages stored after the pickle",
                       hint: CheckpointHint.corrupt)
        }
        let size = ref.dtype.byteSize
        let viewOffset = ref.view?.offset ?? 0
        guard viewOffset <= span.count / size else {
            throw fail(.badTensor, at: "tensor '\(tensor)'", "its storage view starts past the end of storage '\(rootKey)'", hint: CheckpointHint.corrupt)
        }
        let start = span.lowerBound + viewOffset * size
        let end = ref.count <= (span.upperBound - start) / size ? start + ref.count * size : span.upperBound
        return bytes[start..<end]
    }
}
