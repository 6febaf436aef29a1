/// The values of the pickle machine (`Unpickler`): stack values, the containers pickles mutate
/// after memoizing them and the arena that owns them, the globals a pickle may name, and the
/// storages and tensors a state_dict describes.

/// A value on the pickle machine's stack. Containers are classes (pickles mutate them after
/// memoizing them) and live in a `PickleArena`, which breaks their links when reading is over,
/// so that deep or cyclic structures are released without recursion.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too large for Int: little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes(Int)
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(StorageRef)
    case tensor(TensorSpec)

    /// The type name with "a" or "an", for messages.
    var withArticle: String {
        let n = typeName
        return ("aeiou".contains(n.first ?? "x") ? "an " : "a ") + n
    }

    /// A short name for messages.
    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let g): return g.pythonName
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

final class PickleTuple { var items: [PickleValue]; init(_ items: [PickleValue]) { self.items = items } }
final class PickleList { var items: [PickleValue] = [] }

/// A Python dict (or OrderedDict): entries in insertion order, a later SETITEM on an existing
/// string key replacing the value in place, as Python does.
final class PickleDict {
    var entries: [(key: PickleValue, value: PickleValue)] = []
    private var stringIndex: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let s) = key {
            if let i = stringIndex[s] { entries[i].value = value; return }
            stringIndex[s] = entries.count
        }
        entries.append((key, value))
    }

    func value(forKey s: String) -> PickleValue? { stringIndex[s].map { entries[$0].value } }

    func clear() { entries = []; stringIndex = [:] }
}

/// Owns every container a pickle creates (the `Unpickler` appends each one it makes) and breaks
/// their links afterwards (see `PickleValue`).
final class PickleArena {
    var tuples: [PickleTuple] = []
    var lists: [PickleList] = []
    var dicts: [PickleDict] = []
    var count: Int { tuples.count + lists.count + dicts.count }

    func tearDown() {
        for t in tuples { t.items = [] }
        for l in lists { l.items = [] }
        for d in dicts { d.clear() }
        tuples = []; lists = []; dicts = []
    }

    deinit { tearDown() }
}

/// The only Python globals a pickle may name.
enum PickleGlobal: Equatable {
    case orderedDict                // collections.OrderedDict
    case rebuildTensorV2            // torch._utils._rebuild_tensor_v2
    case rebuildParameter           // torch._utils._rebuild_parameter
    case rebuildParameterWithState  // torch._utils._rebuild_parameter_with_state
    case rebuildFromTypeV2          // torch._tensor._rebuild_from_type_v2
    case tensorType(String)         // torch.Tensor, torch.nn.parameter.Parameter: only as a type tag
    case storageType(DType)         // torch.FloatStorage and friends: only inside a persistent id

    static let storageTypes: [String: DType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): self = .rebuildFromTypeV2
        case ("torch", "Tensor"), ("torch._tensor", "Tensor"), ("torch.nn.parameter", "Parameter"):
            self = .tensorType("\(module).\(name)")
        case ("torch", _):
            guard let dtype = Self.storageTypes[name] else { return nil }
            self = .storageType(dtype)
        default: return nil
        }
    }

    var pythonName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .rebuildFromTypeV2: return "torch._tensor._rebuild_from_type_v2"
        case .tensorType(let n): return n
        case .storageType(let d): return "torch." + (Self.storageTypes.first { $0.value == d }?.key ?? "Storage")
        }
    }
}

/// A storage named by a persistent id: where its bytes are and what they hold.
struct StorageRef {
    var key: String
    var dtype: DType
    /// Elements the persistent id declares.
    var count: Int
    /// Legacy files only: a view into a larger storage (root key, element offset).
    var view: (root: String, offset: Int)? = nil
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage. Sizes and
/// strides are checked when it is made; the storage bounds when it is read.
struct TensorSpec {
    var storage: StorageRef
    var offset: Int
    var shape: [Int]
    var stride: [Int]
    var count: Int
}
