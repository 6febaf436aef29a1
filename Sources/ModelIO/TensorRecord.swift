import Tensor

/// Element types found in weight files, named as safetensors names them.
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: return true
        default: return false
        }
    }
}

/// One named tensor as read from a file: its stored element type and shape, with the values
/// converted to float32 (integer values too, so they can be listed; layers refuse them).
public struct TensorRecord: Sendable {
    public var dtype: DType
    public var shape: [Int]
    public var values: [Float]

    public init(dtype: DType, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count)
        self.dtype = dtype; self.shape = shape; self.values = values
    }

    public init(_ tensor: Tensor) {
        self.init(dtype: .f32, shape: tensor.shape, values: tensor.data)
    }

    public var tensor: Tensor { Tensor(shape: shape, data: values) }
}

/// Decodes little-endian elements of `dtype` from raw bytes into float32.
public func decodeFloats(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int) -> [Float] {
    var out = [Float](repeating: 0, count: count)
    for i in 0..<count {
        switch dtype {
        case .f32: out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .f64: out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        case .f16: out[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        case .bf16: out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
        case .i64: out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        case .i32: out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        case .i16: out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
        case .i8: out[i] = Float(raw.load(fromByteOffset: i, as: Int8.self))
        case .u8, .bool: out[i] = Float(raw.load(fromByteOffset: i, as: UInt8.self))
        }
    }
    return out
}
