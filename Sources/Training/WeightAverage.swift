import Tensor

/// An exponential moving average of a generator's tensors: its weights, its class embedding
/// and its batch-norm running statistics. The averaged generator is what training exports and
/// draws its progress grids with (as ProGAN and StyleGAN ship theirs); the live one keeps
/// training. After generator step t (counted from 1) every tensor moves as
///
///     average = d * average + (1 - d) * value,   d = min(decay, (1 + t) / (10 + t))
///
/// so the first hundred steps forget the random start quickly instead of dragging it along.
public final class WeightAverage {
    public let decay: Float
    /// The averaged values, in the order of the tensors they follow.
    public internal(set) var values: [Tensor]

    /// Starts the average at the tensors' current values.
    public init(decay: Float, following tensors: [Parameter]) {
        precondition(decay > 0 && decay < 1, "decay must lie in (0, 1)")
        self.decay = decay
        values = tensors.map(\.value)
    }

    /// The decay used after generator step `step`.
    public func rate(afterStep step: Int) -> Float {
        min(decay, Float(1 + step) / Float(10 + step))
    }

    /// Moves the average towards the tensors' values after generator step `step`.
    public func update(_ tensors: [Parameter], afterStep step: Int) {
        precondition(tensors.count == values.count, "the average follows \(values.count) tensors")
        let d = rate(afterStep: step), e = 1 - d
        for (i, p) in tensors.enumerated() {
            p.value.data.withUnsafeBufferPointer { v in
                values[i].data.withUnsafeMutableBufferPointer { a in
                    for j in a.indices { a[j] = d * a[j] + e * v[j] }
                }
            }
        }
    }

    /// Runs `body` with the averaged values in `tensors`, then puts the live ones back.
    public func withAverage<T>(in tensors: [Parameter], _ body: () throws -> T) rethrows -> T {
        precondition(tensors.count == values.count, "the average follows \(values.count) tensors")
        func exchange() { for (i, p) in tensors.enumerated() { swap(&p.value, &values[i]) } }
        exchange()
        defer { exchange() }
        return try body()
    }
}
