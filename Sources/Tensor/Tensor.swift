/// A dense float32 tensor in row-major (C) order. Shapes use the alphabet N, C, H, W, Z.
///
/// `Tensor` is storage plus a shape and nothing else: it knows no layers, files or images.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) values, data has \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// The same values viewed with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Rows `range` of the leading dimension, e.g. a slice of a batch.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(!shape.isEmpty && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [range.count] + shape.dropFirst(),
                      data: Array(data[(range.lowerBound * inner)..<(range.upperBound * inner)]))
    }

    /// Stacks tensors of one shape along the leading dimension.
    public static func concatenateRows(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty)
        let inner = Array(parts[0].shape.dropFirst())
        var data: [Float] = []
        data.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        var rows = 0
        for part in parts {
            precondition(Array(part.shape.dropFirst()) == inner, "row shapes differ")
            data += part.data
            rows += part.shape[0]
        }
        return Tensor(shape: [rows] + inner, data: data)
    }

    /// True when every value is finite (no NaN, no infinity).
    public var isFinite: Bool { data.allSatisfy { $0.isFinite } }
}

/// The largest absolute difference between two tensors of one shape.
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a.data[i] - b.data[i])) }
    return worst
}
