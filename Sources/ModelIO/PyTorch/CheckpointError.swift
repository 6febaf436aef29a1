/// A checkpoint that could not be read — a PyTorch one, or a Forger training checkpoint
/// (Training's `--resume`): what was wrong, where, and what to do.
///
/// Checkpoints are untrusted input, so every problem found in one (a truncated zip, a wrong
/// CRC, a pickle that names a class we do not know, a tensor larger than its storage) ends
/// here as a thrown error, never as a crash.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case io                 // the file could not be read at all
        case notACheckpoint     // neither a zip container nor a legacy torch.save stream
        case truncated          // the bytes end before a structure does
        case badZip             // a zip structure is malformed or uses an unsupported feature
        case crcMismatch        // a zip entry's CRC-32 does not match its bytes
        case missingEntry       // data.pkl or a storage entry is absent
        case badPickle          // a pickle is malformed: bad opcode, stack underflow, wrong types
        case refusedGlobal      // a pickle names a class or function outside the allow-list
        case badTensor          // shape, stride, offset or storage inconsistent
        case limitExceeded      // a size, depth or count beyond what this reader allows
        case key                // the requested key is absent, or a key is needed
        case otherSettings      // a training checkpoint written with other training settings
    }

    public var kind: Kind
    /// The file (or the label passed to `read(bytes:path:key:)`).
    public var path: String
    /// Where inside the file: a zip entry, a byte offset, a tensor name.
    public var location: String?
    /// What was wrong.
    public var problem: String
    /// What to do about it.
    public var hint: String

    public init(_ kind: Kind, path: String, at location: String? = nil, _ problem: String, hint: String) {
        self.kind = kind; self.path = path; self.location = location
        self.problem = problem; self.hint = hint
    }

    public var description: String {
        var s = path
        if let location { s += " (\(location))" }
        s += ": \(problem)."
        if !hint.isEmpty { s += " \(hint)" }
        return s
    }
}

/// Builds errors that share a file path, so the readers need not repeat it.
struct CheckpointErrors {
    let path: String

    func callAsFunction(_ kind: CheckpointError.Kind, at location: String? = nil, _ problem: String,
                        hint: String = "") -> CheckpointError {
        CheckpointError(kind, path: path, at: location, problem, hint: hint)
    }
}

/// Hints shared by several errors.
enum CheckpointHint {
    static let corrupt = "The file looks damaged or incomplete: download or copy it again."
    static let resave = "Load it in Python and re-save its state_dict: torch.save(model.state_dict(), path)."
}
