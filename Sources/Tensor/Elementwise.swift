import Foundation

/// Linear (fully connected) forward: (N, in) x weight (out, in)^T + bias (out) -> (N, out).
public enum Linear {
    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let (n, inF, outF) = check(input, weight)
        var out = Tensor(zeros: [n, outF])
        input.data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { y in
                    let xb = x.baseAddress!, yb = y.baseAddress!
                    // Split the batch over cores; each part is one single-threaded sgemm.
                    let workers = n >= 8 ? Parallel.workerCount : 1
                    Parallel.forChunks(n, maxWorkers: workers) { rows, _ in
                        Gemm.sgemm(transposeA: false, transposeB: true, m: rows.count, n: outF, k: inF,
                                   a: xb + rows.lowerBound * inF, lda: inF, b: w.baseAddress!, ldb: inF,
                                   c: yb + rows.lowerBound * outF, ldc: outF)
                    }
                }
            }
        }
        if let bias { addChannelBias(&out, bias) }
        return out
    }

    public static func forwardNaive(_ input: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let (n, inF, outF) = check(input, weight)
        var out = Tensor(zeros: [n, outF])
        for i in 0..<n {
            for o in 0..<outF {
                var sum = bias?.data[o] ?? 0
                for k in 0..<inF { sum += input.data[i * inF + k] * weight.data[o * inF + k] }
                out.data[i * outF + o] = sum
            }
        }
        return out
    }

    private static func check(_ input: Tensor, _ weight: Tensor) -> (Int, Int, Int) {
        precondition(input.rank == 2 && weight.rank == 2 && input.shape[1] == weight.shape[1],
                     "linear input \(input.shape) does not fit weight \(weight.shape)")
        return (input.shape[0], weight.shape[1], weight.shape[0])
    }
}

/// Nearest-neighbour upsampling by an integer factor: (N, C, H, W) -> (N, C, sH, sW).
public enum Upsample {
    public static func nearest(_ input: Tensor, scale s: Int) -> Tensor {
        precondition(input.rank == 4 && s >= 1)
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        var out = Tensor(zeros: [n, c, h * s, w * s])
        input.data.withUnsafeBufferPointer { x in
            out.data.withUnsafeMutableBufferPointer { y in
                for plane in 0..<(n * c) {
                    let src = x.baseAddress! + plane * h * w
                    let dst = y.baseAddress! + plane * h * w * s * s
                    for iy in 0..<h {
                        let line = dst + iy * s * w * s
                        for ix in 0..<w {
                            let v = src[iy * w + ix]
                            for k in 0..<s { line[ix * s + k] = v }
                        }
                        for r in 1..<s { (line + r * w * s).update(from: line, count: w * s) }
                    }
                }
            }
        }
        return out
    }
}

/// Batch norm with running statistics (inference): per channel of (N, C) or (N, C, H, W),
/// y = (x - mean) / sqrt(var + eps) * gamma + beta, applied as y = x * scale + shift.
public enum BatchNormInference {
    /// The per-channel scale and shift that batch norm amounts to at inference.
    public static func affine(gamma: Tensor?, beta: Tensor?, mean: Tensor, variance: Tensor,
                              eps: Float) -> (scale: [Float], shift: [Float]) {
        let c = mean.count
        var scale = [Float](repeating: 1, count: c), shift = [Float](repeating: 0, count: c)
        for i in 0..<c {
            let g = gamma?.data[i] ?? 1, b = beta?.data[i] ?? 0
            let s = g / (variance.data[i] + eps).squareRoot()
            scale[i] = s
            shift[i] = b - mean.data[i] * s
        }
        return (scale, shift)
    }

    public static func apply(_ t: inout Tensor, scale: [Float], shift: [Float]) {
        let n = t.shape[0], c = t.shape[1]
        precondition(scale.count == c && shift.count == c)
        let inner = t.count / max(1, n * c)
        t.data.withUnsafeMutableBufferPointer { y in
            for img in 0..<n {
                for ch in 0..<c {
                    let s = scale[ch], b = shift[ch], base = (img * c + ch) * inner
                    for i in 0..<inner { y[base + i] = y[base + i] * s + b }
                }
            }
        }
    }
}

/// Pointwise activations, applied in place.
public enum ActivationKind: Equatable, Sendable {
    case identity, relu, tanh, sigmoid
    case leakyReLU(slope: Float)

    public func apply(_ t: inout Tensor) {
        t.data.withUnsafeMutableBufferPointer { apply($0) }
    }

    /// The activation of x in fresh storage, one pass: the same values as `apply(&copy)`.
    public func applied(to x: Tensor) -> Tensor {
        let count = x.count
        let data = [Float](unsafeUninitializedCapacity: x.count) { y, initialised in
            x.data.withUnsafeBufferPointer { x in
                // Plain pointers, so that the loops vectorise (a captured buffer is reloaded per value).
                let y = y.baseAddress!, x = x.baseAddress!
                Parallel.forSpans(count) { r in
                    if FastGemm.activate(self, x + r.lowerBound, y + r.lowerBound, count: r.count) { return }
                    switch self {
                    case .identity: for i in r { y[i] = x[i] }
                    case .relu: for i in r { y[i] = max(x[i], 0) }
                    case .leakyReLU(let slope): for i in r { y[i] = x[i] < 0 ? x[i] * slope : x[i] }
                    case .tanh: for i in r { y[i] = Foundation.tanh(x[i]) }
                    case .sigmoid: for i in r { y[i] = 1 / (1 + Foundation.exp(-x[i])) }
                    }
                }
            }
            initialised = x.count
        }
        return Tensor(shape: x.shape, data: data)
    }

    public func apply(_ y: UnsafeMutableBufferPointer<Float>) {
        switch self {
        case .identity: break
        case .relu: for i in y.indices { y[i] = max(y[i], 0) }
        case .leakyReLU(let slope): for i in y.indices where y[i] < 0 { y[i] *= slope }
        case .tanh: for i in y.indices { y[i] = Foundation.tanh(y[i]) }
        case .sigmoid: for i in y.indices { y[i] = 1 / (1 + Foundation.exp(-y[i])) }
        }
    }
}

extension ActivationKind {
    /// The activation of one value, as the fused write-backs apply it. tanh and sigmoid use
    /// `fastTanh` (within 3e-7 of libm's) instead of a libm call per value.
    @inline(__always)
    public func value(_ v: Float) -> Float {
        switch self {
        case .identity: return v
        case .relu: return max(v, 0)
        case .leakyReLU(let slope): return v < 0 ? v * slope : v
        case .tanh: return Self.fastTanh(v)
        case .sigmoid: return 0.5 + 0.5 * Self.fastTanh(0.5 * v)
        }
    }

    /// tanh as Eigen's rational approximation (odd degree-13 over even degree-6 polynomial),
    /// clamped where float tanh is within 3e-7 of +-1; no branches but the clamp.
    @inline(__always)
    public static func fastTanh(_ v: Float) -> Float {
        let x = min(max(v, -7.90531110763549805), 7.90531110763549805)
        let x2 = x * x
        var p: Float = -2.76076847742355e-16
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 - 8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        var q: Float = 1.19825839466702e-06
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        return x * p / q
    }
}
