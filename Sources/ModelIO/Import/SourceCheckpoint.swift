import Foundation

/// The container a foreign weights file came in.
public enum SourceFormat: String, Sendable {
    case pytorchZip = "pytorch-zip"
    case pytorchLegacy = "pytorch-legacy"
    case safetensors
}

/// The tensors of a foreign weights file, with what is needed to record where they came from.
public struct SourceCheckpoint: Sendable {
    public var url: URL
    public var format: SourceFormat
    /// SHA-256 of the whole file.
    public var sha256: String
    /// The key the state_dict was taken from (`--key`), if any.
    public var key: String?
    /// In file order, names after any renames.
    public var tensors: [(name: String, record: TensorRecord)]

    /// Reads a torch.save file (zip or legacy) or a safetensors file, telling them apart by
    /// their first bytes. For safetensors, `key` selects the tensors under `key.` and drops
    /// that prefix (safetensors files have no nested dicts; trainers store `netG.*` flat).
    public static func read(_ url: URL, key: String? = nil) throws -> SourceCheckpoint {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw ImportError(url.path, "the file cannot be read (\(error.localizedDescription))",
                              hint: "Check the path and its permissions.")
        }
        let bytes = [UInt8](data)
        let hash = SHA256.hex(bytes)
        if looksLikeSafeTensors(bytes) {
            var tensors = try SafeTensors.decode(data, path: url.path)
            if let key {
                let prefix = key + "."
                let under = tensors.filter { $0.name.hasPrefix(prefix) }
                guard !under.isEmpty else {
                    let roots = Set(tensors.compactMap { $0.name.split(separator: ".").first.map(String.init) }).sorted()
                    throw ImportError(url.path, at: "key '\(key)'", "no tensor name starts with '\(prefix)' in this safetensors file",
                                      hint: "Its names start with: \(roots.prefix(12).joined(separator: ", ")). Run 'forger import --list \(url.lastPathComponent)'.")
                }
                tensors = under.map { (String($0.name.dropFirst(prefix.count)), $0.record) }
            }
            return SourceCheckpoint(url: url, format: .safetensors, sha256: hash, key: key, tensors: tensors)
        }
        let format: SourceFormat = ZipArchive.isZip(bytes) ? .pytorchZip : .pytorchLegacy
        let tensors = try PyTorchCheckpoint.read(bytes: bytes, path: url.path, key: key)
        return SourceCheckpoint(url: url, format: format, sha256: hash, key: key, tensors: tensors)
    }

    /// An 8-byte little-endian header length that fits the file, then a JSON object.
    static func looksLikeSafeTensors(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 10 else { return false }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(bytes[i]) }
        return n >= 2 && n <= UInt64(bytes.count - 8) && bytes[8] == UInt8(ascii: "{")
    }

    /// The tensors as a dictionary (names are unique after `renamed`).
    public var byName: [String: TensorRecord] {
        Dictionary(tensors.map { ($0.name, $0.record) }, uniquingKeysWith: { a, _ in a })
    }

    /// Applies prefix renames in order (`module.` -> ``, `netG.main.` -> `main.`); two tensors
    /// ending with one name is an error naming both.
    public func renamed(_ renames: [TensorRename]) throws -> SourceCheckpoint {
        guard !renames.isEmpty else { return self }
        var out = self
        var seen: [String: String] = [:]
        out.tensors = try tensors.map { name, record in
            var new = name
            for r in renames where new.hasPrefix(r.prefix) { new = r.replacement + new.dropFirst(r.prefix.count) }
            if let other = seen[new] {
                throw ImportError(url.path, at: "tensor '\(name)'", "renaming gives '\(new)', the same name as '\(other)'",
                                  hint: "Change --rename/--strip-prefix so that names stay distinct.")
            }
            seen[new] = name
            return (new, record)
        }
        return out
    }
}

/// `PREFIX=NEW`: a tensor whose name starts with PREFIX gets NEW in its place.
public struct TensorRename: Equatable, Sendable {
    public var prefix: String
    public var replacement: String

    public init(prefix: String, replacement: String) { self.prefix = prefix; self.replacement = replacement }

    /// `--rename module.main.=main.`; `--strip-prefix module.` is `module.=`.
    public init(argument: String) throws {
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else {
            throw ImportError("--rename '\(argument)'", "expected PREFIX=NEW, e.g. module.=  or  netG.main.=main.")
        }
        self.init(prefix: String(argument[..<eq]), replacement: String(argument[argument.index(after: eq)...]))
    }
}
