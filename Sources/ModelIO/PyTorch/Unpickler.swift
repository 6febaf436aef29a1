/// A safe unpickler for the pickles torch.save writes (protocols 2 and 4).
///
/// It interprets opcodes into plain values and never runs anything: a GLOBAL may only name one
/// of the few torch functions and classes a state_dict uses (`PickleGlobal`), and the reducers
/// those name are applied here by hand. Anything else — `os.system`, `torch.nn.modules...`,
/// `torch.storage._load_from_bytes` — is refused with its name. Stack, memo, object count and
/// string sizes are bounded, so a hostile pickle cannot make it crash, hang or allocate more than
/// a small multiple of its own size.

struct Unpickler {
    /// Largest element count of one tensor.
    static let maxElements = 1 << 31
    /// torch batches SETITEMS/APPENDS by 1000, so a real pickle's stack stays far below this;
    /// it also bounds how deep nesting built on the stack can go.
    static let maxStack = 1 << 16
    static let maxMemo = 1 << 20
    static let maxObjects = 1 << 20
    static let maxDimensions = 64

    let data: [UInt8]
    let fail: CheckpointErrors
    /// Names the pickle in messages: a zip entry, or "legacy stream".
    let label: String
    /// Added to positions in messages, for pickles embedded in a larger stream.
    let baseOffset: Int
    let arena: PickleArena
    /// Resolves a BINPERSID id (a tuple such as ('storage', FloatStorage, '0', 'cpu', 6)).
    let persistentLoad: (PickleValue, _ offset: Int) throws -> PickleValue

    private var pos: Int
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var opStart = 0

    init(data: [UInt8], start: Int = 0, path: String, label: String, baseOffset: Int = 0, arena: PickleArena,
         persistentLoad: @escaping (PickleValue, Int) throws -> PickleValue) {
        self.data = data; self.pos = start
        self.fail = CheckpointErrors(path: path)
        self.label = label; self.baseOffset = baseOffset; self.arena = arena
        self.persistentLoad = persistentLoad
    }

    /// Position just past the STOP opcode once `load()` has returned.
    var end: Int { pos }

    private var here: String { "\(label), byte \(baseOffset + opStart)" }

    private func bad(_ problem: String) -> CheckpointError {
        fail(.badPickle, at: here, problem, hint: CheckpointHint.corrupt)
    }

    private func limit(_ what: String, _ n: Int) -> CheckpointError {
        fail(.limitExceeded, at: here, "the pickle's \(what) exceeds \(n); this is not an ordinary state_dict (possibly a hostile file)",
             hint: CheckpointHint.resave)
    }

    // MARK: - Reading bytes

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= data.count - pos else {
            throw fail(.truncated, at: here, "the pickle ends before its data does (needs \(n) more bytes, \(data.count - pos) left) — no STOP opcode",
                       hint: CheckpointHint.corrupt)
        }
        defer { pos += n }
        return data[pos..<(pos + n)]
    }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    /// A length field that must fit in what is left of the pickle.
    private mutating func length(_ n: Int) throws -> Int {
        let v = try uint(n)
        guard v <= UInt64(data.count - pos) else {
            throw fail(.truncated, at: here, "a length of \(v) bytes runs past the end of the pickle (\(data.count - pos) bytes left)",
                       hint: CheckpointHint.corrupt)
        }
        return Int(v)
    }

    private mutating func line() throws -> String {
        var bytes: [UInt8] = []
        while true {
            let b = try take(1).first!
            if b == 0x0A { break }
            bytes.append(b)
            guard bytes.count <= 256 else { throw bad("a GLOBAL name is longer than 256 bytes") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func utf8(_ bytes: ArraySlice<UInt8>) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw bad("a string is not valid UTF-8") }
        return s
    }

    // MARK: - Stack

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw limit("stack depth", Self.maxStack) }
        stack.append(v)
    }

    private mutating func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw bad("an opcode needs a value but the stack is empty") }
        return stack.removeLast()
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw bad("an opcode needs a MARK but none is open") }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }

    private mutating func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw bad("an opcode needs a value but the stack is empty") }
        return stack[stack.count - 1]
    }

    private mutating func put(_ index: Int) throws {
        guard memo.count < Self.maxMemo || memo[index] != nil else { throw limit("memo size", Self.maxMemo) }
        memo[index] = try top()
    }

    private func get(_ index: Int) throws -> PickleValue {
        guard let v = memo[index] else { throw bad("BINGET refers to memo slot \(index), which was never stored") }
        return v
    }

    private func counted() throws {
        guard arena.count < Self.maxObjects else { throw limit("object count", Self.maxObjects) }
    }

    private mutating func tuple(_ items: [PickleValue]) throws -> PickleValue {
        try counted()
        let t = PickleTuple(items); arena.tuples.append(t)
        return .tuple(t)
    }

    private mutating func newList() throws -> PickleList {
        try counted()
        let l = PickleList(); arena.lists.append(l)
        return l
    }

    private mutating func newDict() throws -> PickleDict {
        try counted()
        let d = PickleDict(); arena.dicts.append(d)
        return d
    }

    // MARK: - The machine

    /// Runs until STOP and returns the value left on the stack.
    mutating func load() throws -> PickleValue {
        while true {
            opStart = pos
            guard pos < data.count else {
                throw fail(.truncated, at: here, "the pickle ends without a STOP opcode", hint: CheckpointHint.corrupt)
            }
            let op = data[pos]; pos += 1
            if op == 0x2E { // STOP
                guard marks.isEmpty, stack.count == 1 else { throw bad("STOP leaves \(stack.count) values and \(marks.count) open MARKs instead of one value") }
                return stack[0]
            }
            if try framing(op) || scalar(op) || container(op) || object(op) { continue }
            throw fail(.badPickle, at: here, "opcode 0x\(String(op, radix: 16)) is not one this reader accepts (a state_dict never needs it)",
                       hint: CheckpointHint.resave)
        }
    }

    /// The protocol, frame and stack opcodes (PROTO, FRAME, MARK, POP, POP_MARK, DUP); false for any other.
    private mutating func framing(_ op: UInt8) throws -> Bool {
        switch op {
        case 0x80: // PROTO
            let v = try uint(1)
            guard v <= 5 else { throw bad("pickle protocol \(v) is not supported (0-5)") }
        case 0x95: // FRAME: a length hint only
            _ = try uint(8)
        case 0x28: // MARK
            guard marks.count < Self.maxStack else { throw limit("MARK count", Self.maxStack) }
            marks.append(stack.count)
        case 0x30: // POP
            if stack.count == (marks.last ?? -1) { _ = try popMark() } else { _ = try pop() }
        case 0x31: // POP_MARK
            _ = try popMark()
        case 0x32: // DUP
            try push(try top())
        default: return false
        }
        return true
    }

    /// The opcodes that push a constant, a number, a string or bytes; false for any other.
    private mutating func scalar(_ op: UInt8) throws -> Bool {
        switch op {
        case 0x4E: try push(.none) // NONE
        case 0x88: try push(.bool(true)) // NEWTRUE
        case 0x89: try push(.bool(false)) // NEWFALSE
        case 0x4A: // BININT
            try push(.int(Int(Int32(truncatingIfNeeded: UInt32(try uint(4))))))
        case 0x4B: try push(.int(Int(try uint(1)))) // BININT1
        case 0x4D: try push(.int(Int(try uint(2)))) // BININT2
        case 0x8A, 0x8B: // LONG1, LONG4
            let n = try length(op == 0x8A ? 1 : 4)
            let bytes = Array(try take(n))
            if n == 0 {
                try push(.int(0))
            } else if n <= 8 {
                var v: UInt64 = 0
                for (i, b) in bytes.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
                if n < 8, bytes[n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
                try push(.int(Int(Int64(bitPattern: v))))
            } else {
                try push(.bigInt(bytes))
            }
        case 0x47: // BINFLOAT, big-endian
            let b = try take(8)
            var v: UInt64 = 0
            for x in b { v = v << 8 | UInt64(x) }
            try push(.float(Double(bitPattern: v)))
        case 0x58: try push(.string(try utf8(try take(try length(4))))) // BINUNICODE
        case 0x8C: try push(.string(try utf8(try take(try length(1))))) // SHORT_BINUNICODE
        case 0x8D: try push(.string(try utf8(try take(try length(8))))) // BINUNICODE8
        case 0x42: try push(.bytes(try take(try length(4)).count)) // BINBYTES
        case 0x43: try push(.bytes(try take(try length(1)).count)) // SHORT_BINBYTES
        case 0x8E: try push(.bytes(try take(try length(8)).count)) // BINBYTES8
        default: return false
        }
        return true
    }

    /// The opcodes that build tuples, lists and dicts and use the memo; false for any other.
    private mutating func container(_ op: UInt8) throws -> Bool {
        switch op {
        case 0x29: try push(try tuple([])) // EMPTY_TUPLE
        case 0x85: // TUPLE1
            let a = try pop(); try push(try tuple([a]))
        case 0x86: // TUPLE2
            let b = try pop(), a = try pop(); try push(try tuple([a, b]))
        case 0x87: // TUPLE3
            let c = try pop(), b = try pop(), a = try pop(); try push(try tuple([a, b, c]))
        case 0x74: // TUPLE
            try push(try tuple(try popMark()))
        case 0x5D: try push(.list(try newList())) // EMPTY_LIST
        case 0x6C: // LIST
            let items = try popMark(); let l = try newList(); l.items = items; try push(.list(l))
        case 0x7D: try push(.dict(try newDict())) // EMPTY_DICT
        case 0x64: // DICT
            let items = try popMark(); let d = try newDict()
            try setItems(d, items)
            try push(.dict(d))
        case 0x71: try put(Int(try uint(1))) // BINPUT
        case 0x72: try put(Int(try uint(4))) // LONG_BINPUT
        case 0x94: try put(memo.count) // MEMOIZE
        case 0x68: try push(try get(Int(try uint(1)))) // BINGET
        case 0x6A: try push(try get(Int(try uint(4)))) // LONG_BINGET
        case 0x61: // APPEND
            let v = try pop()
            guard case .list(let l) = try top() else { throw bad("APPEND to \(try top().withArticle), not a list") }
            l.items.append(v)
        case 0x65: // APPENDS
            let items = try popMark()
            guard case .list(let l) = try top() else { throw bad("APPENDS to \(try top().withArticle), not a list") }
            l.items += items
        case 0x73: // SETITEM
            let v = try pop(), k = try pop()
            guard case .dict(let d) = try top() else { throw bad("SETITEM on \(try top().withArticle), not a dict") }
            try setItems(d, [k, v])
        case 0x75: // SETITEMS
            let items = try popMark()
            guard case .dict(let d) = try top() else { throw bad("SETITEMS on \(try top().withArticle), not a dict") }
            try setItems(d, items)
        default: return false
        }
        return true
    }

    /// The opcodes that name a global, load a persistent id or apply a reducer; false for any other.
    private mutating func object(_ op: UInt8) throws -> Bool {
        switch op {
        case 0x63: // GLOBAL
            let module = try line(), name = try line()
            try push(.global(try resolve(module, name)))
        case 0x93: // STACK_GLOBAL
            guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                throw bad("STACK_GLOBAL needs two strings")
            }
            try push(.global(try resolve(module, name)))
        case 0x51: // BINPERSID
            let pid = try pop()
            try push(try persistentLoad(pid, baseOffset + opStart))
        case 0x52: // REDUCE
            guard case .tuple(let args) = try pop() else { throw bad("REDUCE needs an argument tuple") }
            let f = try pop()
            try push(try call(f, args.items))
        case 0x81: // NEWOBJ
            guard case .tuple(let args) = try pop() else { throw bad("NEWOBJ needs an argument tuple") }
            guard case .global(.orderedDict) = try pop(), args.items.isEmpty else {
                throw bad("NEWOBJ may only create an empty collections.OrderedDict")
            }
            try push(.dict(try newDict()))
        case 0x62: // BUILD: state for an object we made; dict and tensor state carries no weights.
            let state = try pop()
            switch try top() {
            case .dict, .tensor: break
            default: throw bad("BUILD sets state \(state.typeName) on \(try top().withArticle)")
            }
        default: return false
        }
        return true
    }

    private func setItems(_ d: PickleDict, _ items: [PickleValue]) throws {
        guard items.count % 2 == 0 else { throw bad("SETITEMS has an odd number of values") }
        var i = 0
        while i < items.count { d.set(items[i], items[i + 1]); i += 2 }
    }

    private func resolve(_ module: String, _ name: String) throws -> PickleGlobal {
        guard let g = PickleGlobal(module: module, name: name) else {
            throw fail(.refusedGlobal, at: here,
                       "the pickle names '\(module).\(name)', which is not allowed; it was not run. Only plain state_dicts (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.*Storage, ...) are read",
                       hint: module.hasPrefix("torch.nn") || module == "__main__"
                           ? "This file pickles a whole model object. " + CheckpointHint.resave
                           : CheckpointHint.resave)
        }
        return g
    }

    // MARK: - The reducers we allow

    private mutating func call(_ f: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case .global(let g) = f else { throw bad("REDUCE calls \(f.withArticle), which is not callable") }
        switch g {
        case .orderedDict:
            guard args.isEmpty else { throw bad("collections.OrderedDict is called with arguments") }
            return .dict(try newDict())
        case .rebuildTensorV2:
            guard args.count >= 4, args.count <= 7 else { throw bad("_rebuild_tensor_v2 takes 4 to 7 arguments, not \(args.count)") }
            return .tensor(try tensorSpec(args))
        case .rebuildParameter, .rebuildParameterWithState:
            guard args.count >= 1, case .tensor = args[0] else { throw bad("\(g.pythonName) is not given a tensor") }
            return args[0]
        case .rebuildFromTypeV2:
            // (func, new_type, args, state): the type must be a plain tensor type, func one of ours.
            guard args.count == 4, case .global(let inner) = args[0], case .global(.tensorType) = args[1],
                  case .tuple(let innerArgs) = args[2],
                  [.rebuildTensorV2, .rebuildParameter, .rebuildParameterWithState].contains(inner) else {
                throw bad("_rebuild_from_type_v2 is used with arguments this reader does not accept")
            }
            return try call(.global(inner), innerArgs.items)
        case .tensorType(let n):
            throw fail(.refusedGlobal, at: here, "the pickle calls '\(n)' directly, which is not allowed", hint: CheckpointHint.resave)
        case .storageType:
            throw fail(.refusedGlobal, at: here, "the pickle calls '\(g.pythonName)' directly instead of naming a stored storage",
                       hint: CheckpointHint.resave)
        }
    }

    private func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard case .tuple(let t) = v else { throw bad("a tensor's \(what) is \(v.withArticle), not a tuple") }
        guard t.items.count <= Self.maxDimensions else {
            throw fail(.limitExceeded, at: here, "a tensor has \(t.items.count) dimensions (at most \(Self.maxDimensions) are read)", hint: CheckpointHint.resave)
        }
        return try t.items.map {
            guard case .int(let i) = $0 else { throw bad("a tensor's \(what) holds \($0.withArticle), not an int") }
            return i
        }
    }

    private func tensorSpec(_ args: [PickleValue]) throws -> TensorSpec {
        guard case .storage(let storage) = args[0] else { throw bad("_rebuild_tensor_v2 is given \(args[0].withArticle), not a storage") }
        guard case .int(let offset) = args[1] else { throw bad("_rebuild_tensor_v2's storage offset is not an int") }
        let shape = try ints(args[2], "size"), stride = try ints(args[3], "stride")
        let badTensor = { (p: String) in
            self.fail(.badTensor, at: self.here, "a tensor in storage '\(storage.key)' \(p)", hint: CheckpointHint.corrupt)
        }
        guard shape.count == stride.count else { throw badTensor("has \(shape.count) sizes but \(stride.count) strides") }
        guard offset >= 0 else { throw badTensor("has a negative storage offset \(offset)") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw badTensor("has a negative size \(shape)") }
        guard stride.allSatisfy({ $0 >= 0 }) else { throw badTensor("has a negative stride \(stride)") }
        var count = 1
        for s in shape {
            let (c, overflow) = count.multipliedReportingOverflow(by: s)
            guard !overflow, c <= Self.maxElements else {
                throw fail(.limitExceeded, at: here, "a tensor in storage '\(storage.key)' of shape \(shape) has more than 2^31 elements",
                           hint: "Tensors this large are not supported; the file may be damaged or hostile.")
            }
            count = c
        }
        return TensorSpec(storage: storage, offset: offset, shape: shape, stride: stride, count: count)
    }
}
