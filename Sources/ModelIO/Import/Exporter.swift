import Foundation
import Safety

/// Writes a model's weights as a PyTorch `state_dict` in safetensors form, so that
/// `module.load_state_dict(safetensors.torch.load_file(path))` takes it with strict checking.
///
/// `weights.safetensors` already holds the referenced tensors under their state_dict names
/// and layouts; an export adds what PyTorch's modules also expect but Forger does not use:
/// for every batch norm whose tensors are named `P.running_mean`/`P.running_var`, an int64
/// scalar `P.num_batches_tracked` (0). Not written: tensors no layer references.
public enum ModelExport {
    public enum Entry: Sendable {
        case f32(shape: [Int], values: [Float])
        case i64(shape: [Int], values: [Int64])
    }

    /// The state_dict entries of a loaded model directory, in layer order.
    public static func stateDict(_ directory: URL) throws -> [(name: String, entry: Entry)] {
        let model = try ModelStore.load(directory)
        let weightsURL = directory.appendingPathComponent(ModelStore.weightsFile)
        let stored = Dictionary(try SafeTensors.read(weightsURL).map { ($0.name, $0.record) }, uniquingKeysWith: { a, _ in a })
        var out: [(name: String, entry: Entry)] = []
        var seen = Set<String>()
        func add(_ name: String, _ entry: Entry) { if seen.insert(name).inserted { out.append((name, entry)) } }
        for name in model.manifest.referencedTensors {
            let r = stored[name]!   // load() checked that every referenced tensor is present
            add(name, .f32(shape: r.shape, values: r.values))
        }
        for layer in model.manifest.layers {
            guard case .batchNorm(_, _, _, _, let mean, let variance) = layer,
                  mean.hasSuffix(".running_mean"), variance.hasSuffix(".running_var"),
                  mean.dropLast("running_mean".count) == variance.dropLast("running_var".count) else { continue }
            let counter = mean.dropLast("running_mean".count) + "num_batches_tracked"
            add(String(counter), .i64(shape: [], values: [0]))
        }
        return out
    }

    /// safetensors bytes for F32 and I64 entries; `__metadata__` {"format": "pt"} as
    /// safetensors.torch writes it.
    public static func encode(_ entries: [(name: String, entry: Entry)], metadata: [String: String] = [:]) -> Data {
        var header: [String: JSONValue] = [:]
        var body = Data()
        for (name, entry) in entries {
            let begin = body.count
            let shape: [Int], dtype: String
            switch entry {
            case .f32(let s, let values):
                shape = s; dtype = "F32"
                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            case .i64(let s, let values):
                shape = s; dtype = "I64"
                for v in values { withUnsafeBytes(of: v.littleEndian) { body.append(contentsOf: $0) } }
            }
            header[name] = .object(["dtype": .string(dtype), "shape": .array(shape.map { .number(Double($0)) }),
                                    "data_offsets": .array([.number(Double(begin)), .number(Double(body.count))])])
        }
        header["__metadata__"] = .object((["format": "pt"].merging(metadata) { _, new in new }).mapValues { .string($0) })
        var text = Array(JSONWriter.compact(.object(header)).utf8)
        while text.count % 8 != 0 { text.append(0x20) }
        var out = Data(capacity: 8 + text.count + body.count)
        withUnsafeBytes(of: UInt64(text.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: text)
        out.append(body)
        return out
    }

    /// Exports a model directory to `file`, written to a temporary sibling and renamed into
    /// place, so a failure leaves nothing behind. Returns the entries written.
    @discardableResult
    public static func run(_ directory: URL, to file: URL, replace: Bool = false) throws -> [(name: String, entry: Entry)] {
        let fm = FileManager.default
        if fm.fileExists(atPath: file.path) && !replace {
            throw ImportError(file.path, "the file already exists", hint: "Choose another -o path, or add --force to replace it.")
        }
        let entries = try stateDict(directory)
        let manifest = try ModelStore.load(directory).manifest
        let data = encode(entries, metadata: ["forger_model": manifest.name])
        do {
            try AtomicFile.write(data, to: file)
        } catch {
            throw ImportError(file.path, "cannot write the export (\(error))",
                              hint: "Check that the folder exists and is writable.")
        }
        return entries
    }
}
