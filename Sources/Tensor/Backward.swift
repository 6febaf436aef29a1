/// Backward kernels of linear, nearest upsampling, batch norm and the activations (the
/// convolutions' are in ConvBackward.swift). Each takes exactly what its forward kept (inputs,
/// outputs) and the gradient of the loss with respect to the forward's output; parameter gradients are
/// accumulated (`+=`) into the caller's tensors, input gradients are returned fresh.
///
/// Work is split over the batch with `Parallel.forChunks`; per-worker partial parameter
/// gradients are summed in worker order, so results are deterministic for a given core count.

public enum LinearBackward {
    /// input (N, in), weight (out, in), gradOutput (N, out). Adds into gradWeight (out, in)
    /// and gradBias (out) unless `needWeightGradient` is false; returns gradInput (N, in) when
    /// `needInputGradient`.
    public static func backward(input: Tensor, weight: Tensor, gradOutput: Tensor,
                                gradWeight: inout Tensor, gradBias: inout Tensor?,
                                needInputGradient: Bool = true, needWeightGradient: Bool = true) -> Tensor? {
        let (n, inF, outF) = (input.shape[0], weight.shape[1], weight.shape[0])
        precondition(gradOutput.shape == [n, outF] && input.shape == [n, inF], "linear backward shapes do not fit")
        if needWeightGradient {
            input.data.withUnsafeBufferPointer { x in
                gradOutput.data.withUnsafeBufferPointer { dy in
                    gradWeight.data.withUnsafeMutableBufferPointer { dW in
                        // dW (out, in) += dY^T (out, N) * X (N, in)
                        Gemm.sgemm(transposeA: true, transposeB: false, m: outF, n: inF, k: n,
                                   a: dy.baseAddress!, lda: outF, b: x.baseAddress!, ldb: inF,
                                   beta: 1, c: dW.baseAddress!, ldc: inF)
                    }
                }
            }
            if gradBias != nil { accumulateChannelSums(gradOutput, into: &gradBias!) }
        }
        guard needInputGradient else { return nil }
        var dx = Tensor(zeros: [n, inF])
        gradOutput.data.withUnsafeBufferPointer { dy in
            weight.data.withUnsafeBufferPointer { wt in
                dx.data.withUnsafeMutableBufferPointer { dxb in
                    let dyb = dy.baseAddress!, out = dxb.baseAddress!
                    Parallel.forChunks(n, maxWorkers: n >= 8 ? Parallel.workerCount : 1) { r, _ in
                        // dX (rows, in) = dY (rows, out) * W (out, in)
                        Gemm.sgemm(transposeA: false, transposeB: false, m: r.count, n: inF, k: outF,
                                   a: dyb + r.lowerBound * outF, lda: outF, b: wt.baseAddress!, ldb: inF,
                                   c: out + r.lowerBound * inF, ldc: inF)
                    }
                }
            }
        }
        return dx
    }
}

public enum UpsampleBackward {
    /// gradOutput (N, C, sH, sW) -> gradInput (N, C, H, W): each input pixel collects its block.
    public static func nearest(_ gradOutput: Tensor, scale s: Int) -> Tensor {
        let (n, c, oh, ow) = (gradOutput.shape[0], gradOutput.shape[1], gradOutput.shape[2], gradOutput.shape[3])
        precondition(oh % s == 0 && ow % s == 0)
        let (h, w) = (oh / s, ow / s)
        var dx = Tensor(zeros: [n, c, h, w])
        gradOutput.data.withUnsafeBufferPointer { dy in
            dx.data.withUnsafeMutableBufferPointer { out in
                for plane in 0..<(n * c) {
                    let src = dy.baseAddress! + plane * oh * ow, dst = out.baseAddress! + plane * h * w
                    for oy in 0..<oh {
                        let line = dst + (oy / s) * w, srcLine = src + oy * ow
                        for ox in 0..<ow { line[ox / s] += srcLine[ox] }
                    }
                }
            }
        }
        return dx
    }
}

/// Batch norm in training mode: normalises with the batch's own mean and (biased) variance
/// per channel of (N, C) or (N, C, H, W), as PyTorch's `BatchNorm` does in `train()`.
public enum BatchNormTraining {
    /// What backward needs: the normalised input and 1/sqrt(var + eps) per channel.
    public struct Cache {
        /// (N, C, ...) same shape as the input
        public var normalised: Tensor
        /// (C)
        public var inverseStd: [Float]
        /// (C) batch mean and biased batch variance, for the running statistics.
        public var mean: [Float]
        public var variance: [Float]
    }

    /// Sums in Double over each channel's values in the order of the plain loops (image by
    /// image), visited in memory order: the same values as `forwardNaive`, bit for bit.
    public static func forward(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float) -> (Tensor, Cache) {
        let n = x.shape[0], c = x.shape[1], inner = x.count / max(1, n * c)
        precondition(gamma.count == c && beta.count == c, "batch norm of \(c) channels given \(gamma.count) scales")
        let m = Double(n * inner)
        var sums = [Double](repeating: 0, count: c), squares = sums
        let workers = Self.workers(x.count, c)
        x.data.withUnsafeBufferPointer { x in
        sums.withUnsafeMutableBufferPointer { sums in
        squares.withUnsafeMutableBufferPointer { squares in
            // Channels over workers: each channel's sums keep their order.
            // Four channels at a time: four independent chains of additions, each channel's in
            // its own order.
            let (x, sums, squares) = (x.baseAddress!, sums.baseAddress!, squares.baseAddress!)
            Parallel.forChunks(c, maxWorkers: workers) { channels, _ in
                for img in 0..<n {
                    forEachChannel(in: channels, image: img, channels: c, inner: inner) { ch, lanes in
                        sumRows(x, ch, lanes, inner, into: sums) { v, _, _ in v }
                    }
                }
                for img in 0..<n {
                    forEachChannel(in: channels, image: img, channels: c, inner: inner) { ch, lanes in
                        sumRows(x, ch, lanes, inner, into: squares) { v, lane, _ in
                            let d = v - sums[ch[lane]] / m
                            return d * d
                        }
                    }
                }
            }
        }
        }
        }
        var mean = [Float](repeating: 0, count: c), variance = mean, inverseStd = mean
        for ch in 0..<c {
            let v = squares[ch] / m
            mean[ch] = Float(sums[ch] / m); variance[ch] = Float(v)
            inverseStd[ch] = Float(1 / (v + Double(eps)).squareRoot())
        }
        var xhat = [Float](repeating: 0, count: x.count), y = xhat
        x.data.withUnsafeBufferPointer { x in
        gamma.data.withUnsafeBufferPointer { gamma in
        beta.data.withUnsafeBufferPointer { beta in
        xhat.withUnsafeMutableBufferPointer { xhat in
        y.withUnsafeMutableBufferPointer { y in
            // Plain pointers, so that the loop vectorises (a captured buffer is reloaded per value).
            let (x, xhat, y) = (x.baseAddress!, xhat.baseAddress!, y.baseAddress!)
            Parallel.forChunks(n, maxWorkers: workers) { images, _ in
                for img in images {
                    for ch in 0..<c {
                        let base = (img * c + ch) * inner
                        let g = gamma[ch], b = beta[ch], muF = mean[ch], inv = inverseStd[ch]
                        for i in base..<(base + inner) {
                            let h = (x[i] - muF) * inv
                            xhat[i] = h
                            y[i] = h * g + b
                        }
                    }
                }
            }
        }
        }
        }
        }
        }
        return (Tensor(shape: x.shape, data: y),
                Cache(normalised: Tensor(shape: x.shape, data: xhat), inverseStd: inverseStd, mean: mean, variance: variance))
    }

    /// Channel rows of one image in groups of up to four: `body(group, lanes)`.
    @inline(__always)
    static func forEachChannel(in channels: Range<Int>, image img: Int, channels c: Int, inner: Int,
                               _ body: (ChannelGroup, Int) -> Void) {
        var ch = channels.lowerBound
        while ch < channels.upperBound {
            let lanes = min(4, channels.upperBound - ch)
            let k = (ch, ch + min(1, lanes - 1), ch + min(2, lanes - 1), ch + min(3, lanes - 1))
            let g = ChannelGroup(channels: k, rows: ((img * c + k.0) * inner, (img * c + k.1) * inner,
                                                     (img * c + k.2) * inner, (img * c + k.3) * inner))
            body(g, lanes)
            ch += lanes
        }
    }

    /// Up to four channels' rows (their first values' indices) of one image.
    struct ChannelGroup {
        var channels: (Int, Int, Int, Int)
        var rows: (Int, Int, Int, Int)
        subscript(lane: Int) -> Int { Self.pick(channels, lane) }
        func row(_ lane: Int) -> Int { Self.pick(rows, lane) }
        @inline(__always)
        static func pick(_ t: (Int, Int, Int, Int), _ lane: Int) -> Int {
            switch lane { case 0: return t.0; case 1: return t.1; case 2: return t.2; default: return t.3 }
        }
    }

    /// sums[ch] += term(value, lane, i) over each lane's row, in row order: up to four
    /// independent chains of additions (the lanes), each as the one-channel loop adds them.
    @inline(__always)
    static func sumRows(_ x: UnsafePointer<Float>, _ g: ChannelGroup, _ lanes: Int, _ inner: Int,
                        into sums: UnsafeMutablePointer<Double>, _ term: (Double, Int, Int) -> Double) {
        if lanes == 4 {
            let (r0, r1, r2, r3) = (x + g.rows.0, x + g.rows.1, x + g.rows.2, x + g.rows.3)
            let c = g.channels
            var (s0, s1, s2, s3) = (sums[c.0], sums[c.1], sums[c.2], sums[c.3])
            for i in 0..<inner {
                s0 += term(Double(r0[i]), 0, i); s1 += term(Double(r1[i]), 1, i)
                s2 += term(Double(r2[i]), 2, i); s3 += term(Double(r3[i]), 3, i)
            }
            sums[c.0] = s0; sums[c.1] = s1; sums[c.2] = s2; sums[c.3] = s3
        } else {
            for l in 0..<lanes {
                let r = x + g.row(l)
                var s = sums[g[l]]
                for i in 0..<inner { s += term(Double(r[i]), l, i) }
                sums[g[l]] = s
            }
        }
    }

    /// Workers for a batch-norm pass over `count` values: one below 64 Ki values (where a
    /// hand-off costs more than it saves).
    static func workers(_ count: Int, _ channels: Int) -> Int {
        count >= 1 << 16 ? min(channels, Parallel.workerCount) : 1
    }

    /// Plain-loop reference for `forward`, channel by channel.
    public static func forwardNaive(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float) -> (Tensor, Cache) {
        let n = x.shape[0], c = x.shape[1], inner = x.count / max(1, n * c)
        precondition(gamma.count == c && beta.count == c, "batch norm of \(c) channels given \(gamma.count) scales")
        let m = Double(n * inner)
        var mean = [Float](repeating: 0, count: c), variance = mean, inverseStd = mean
        var xhat = Tensor(zeros: x.shape), y = Tensor(zeros: x.shape)
        for ch in 0..<c {
            var sum = 0.0
            for img in 0..<n { let base = (img * c + ch) * inner; for i in 0..<inner { sum += Double(x.data[base + i]) } }
            let mu = sum / m
            var sq = 0.0
            for img in 0..<n {
                let base = (img * c + ch) * inner
                for i in 0..<inner { let d = Double(x.data[base + i]) - mu; sq += d * d }
            }
            let v = sq / m
            let inv = Float(1 / (v + Double(eps)).squareRoot())
            mean[ch] = Float(mu); variance[ch] = Float(v); inverseStd[ch] = inv
            let g = gamma.data[ch], b = beta.data[ch], muF = Float(mu)
            for img in 0..<n {
                let base = (img * c + ch) * inner
                for i in 0..<inner {
                    let h = (x.data[base + i] - muF) * inv
                    xhat.data[base + i] = h
                    y.data[base + i] = h * g + b
                }
            }
        }
        return (y, Cache(normalised: xhat, inverseStd: inverseStd, mean: mean, variance: variance))
    }

    /// Adds into gradGamma and gradBeta (C); returns gradInput.
    /// dx = gamma * invStd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)).
    /// Memory order, sums in the plain loops' order: the same values as `backwardNaive`.
    public static func backward(_ gradOutput: Tensor, cache: Cache, gamma: Tensor,
                                gradGamma: inout Tensor, gradBeta: inout Tensor) -> Tensor {
        let xhat = cache.normalised
        let n = xhat.shape[0], c = xhat.shape[1], inner = xhat.count / max(1, n * c)
        precondition(gradOutput.shape == xhat.shape)
        let m = Double(n * inner)
        // Sums in Double: a channel of a 32x32 batch of 64 has 65,536 terms.
        var sumDy = [Double](repeating: 0, count: c), sumDyXhat = sumDy
        var dx = [Float](repeating: 0, count: xhat.count)
        let workers = Self.workers(xhat.count, c)
        gradOutput.data.withUnsafeBufferPointer { dy in
        xhat.data.withUnsafeBufferPointer { xh in
            sumDy.withUnsafeMutableBufferPointer { sumDy in
            sumDyXhat.withUnsafeMutableBufferPointer { sumDyXhat in
                let (dyp, xhp, sumDy, sumDyXhat) = (dy.baseAddress!, xh.baseAddress!, sumDy.baseAddress!, sumDyXhat.baseAddress!)
                Parallel.forChunks(c, maxWorkers: workers) { channels, _ in
                    for img in 0..<n {
                        forEachChannel(in: channels, image: img, channels: c, inner: inner) { ch, lanes in
                            sumRows(dyp, ch, lanes, inner, into: sumDy) { v, _, _ in v }
                            sumRows(dyp, ch, lanes, inner, into: sumDyXhat) { v, lane, i in v * Double(xhp[ch.row(lane) + i]) }
                        }
                    }
                }
            }
            }
            var k = [Float](repeating: 0, count: c), meanDy = k, meanDyXhat = k
            for ch in 0..<c {
                gradGamma.data[ch] += Float(sumDyXhat[ch])
                gradBeta.data[ch] += Float(sumDy[ch])
                k[ch] = gamma.data[ch] * cache.inverseStd[ch]
                meanDy[ch] = Float(sumDy[ch] / m); meanDyXhat[ch] = Float(sumDyXhat[ch] / m)
            }
            dx.withUnsafeMutableBufferPointer { dx in
                let (dx, dy, xh) = (dx.baseAddress!, dy.baseAddress!, xh.baseAddress!)
                Parallel.forChunks(n, maxWorkers: workers) { images, _ in
                    for img in images {
                        for ch in 0..<c {
                            let base = (img * c + ch) * inner, kc = k[ch], md = meanDy[ch], mdx = meanDyXhat[ch]
                            // dx = gamma * invStd * (dy - mean(dy) - xhat * mean(dy * xhat))
                            for i in base..<(base + inner) { dx[i] = kc * (dy[i] - md - xh[i] * mdx) }
                        }
                    }
                }
            }
        }
        }
        return Tensor(shape: xhat.shape, data: dx)
    }

    /// Plain-loop reference for `backward`, channel by channel.
    public static func backwardNaive(_ gradOutput: Tensor, cache: Cache, gamma: Tensor,
                                     gradGamma: inout Tensor, gradBeta: inout Tensor) -> Tensor {
        let xhat = cache.normalised
        let n = xhat.shape[0], c = xhat.shape[1], inner = xhat.count / max(1, n * c)
        precondition(gradOutput.shape == xhat.shape)
        let m = Double(n * inner)
        var dx = Tensor(zeros: xhat.shape)
        for ch in 0..<c {
            var sumDy = 0.0, sumDyXhat = 0.0
            for img in 0..<n {
                let base = (img * c + ch) * inner
                for i in 0..<inner {
                    let d = Double(gradOutput.data[base + i])
                    sumDy += d; sumDyXhat += d * Double(xhat.data[base + i])
                }
            }
            gradGamma.data[ch] += Float(sumDyXhat)
            gradBeta.data[ch] += Float(sumDy)
            let k = gamma.data[ch] * cache.inverseStd[ch]
            let meanDy = Float(sumDy / m), meanDyXhat = Float(sumDyXhat / m)
            for img in 0..<n {
                let base = (img * c + ch) * inner
                for i in 0..<inner {
                    dx.data[base + i] = k * (gradOutput.data[base + i] - meanDy - xhat.data[base + i] * meanDyXhat)
                }
            }
        }
        return dx
    }
}

extension ActivationKind {
    /// Gradient through the activation, from its output y and the output's gradient.
    /// At the kinks of relu and leaky relu (y == 0) the left-hand slope is used, as PyTorch
    /// does (relu'(0) = 0, leaky'(0) = slope). Leaky relu needs slope > 0 to read the sign from y.
    ///
    /// One pass into fresh storage, each value a select or a product: the same values as
    /// `backwardNaive`, bit for bit.
    public func backward(output y: Tensor, gradOutput dy: Tensor) -> Tensor {
        precondition(y.shape == dy.shape)
        if case .leakyReLU(let slope) = self { precondition(slope > 0, "leaky relu backward needs a positive slope") }
        let data = [Float](unsafeUninitializedCapacity: dy.count) { dx, initialised in
            y.data.withUnsafeBufferPointer { y in
            dy.data.withUnsafeBufferPointer { dy in
                // Plain pointers, so that the loops vectorise (a captured buffer is reloaded per value).
                let out = dx.baseAddress!, y = y.baseAddress!, dy = dy.baseAddress!
                Parallel.forSpans(dx.count) { r in
                    if FastGemm.activationGradient(self, output: y + r.lowerBound, dy + r.lowerBound, out + r.lowerBound,
                                                   count: r.count) { return }
                    switch self {
                    case .identity: for i in r { out[i] = dy[i] }
                    case .relu: for i in r { out[i] = y[i] > 0 ? dy[i] : 0 }
                    case .leakyReLU(let slope): for i in r { out[i] = y[i] > 0 ? dy[i] : dy[i] * slope }
                    case .tanh: for i in r { out[i] = dy[i] * (1 - y[i] * y[i]) }
                    case .sigmoid: for i in r { out[i] = dy[i] * (y[i] * (1 - y[i])) }
                    }
                }
            }
            }
            initialised = dy.count
        }
        return Tensor(shape: dy.shape, data: data)
    }

    /// Plain-loop reference for `backward`.
    public func backwardNaive(output y: Tensor, gradOutput dy: Tensor) -> Tensor {
        precondition(y.shape == dy.shape)
        var dx = dy
        switch self {
        case .identity: break
        case .relu: for i in 0..<dx.count where !(y.data[i] > 0) { dx.data[i] = 0 }
        case .leakyReLU(let slope):
            precondition(slope > 0, "leaky relu backward needs a positive slope")
            for i in 0..<dx.count where !(y.data[i] > 0) { dx.data[i] *= slope }
        case .tanh: for i in 0..<dx.count { dx.data[i] *= 1 - y.data[i] * y.data[i] }
        case .sigmoid: for i in 0..<dx.count { dx.data[i] *= y.data[i] * (1 - y.data[i]) }
        }
        return dx
    }
}

/// Adds the sum over N (and H, W) of each channel c of an (N, C, ...) tensor into sums (C).
/// Each channel's values are summed image by image from 0, in memory order, then added.
public func accumulateChannelSums(_ t: Tensor, into sums: inout Tensor) {
    let n = t.shape[0], c = t.shape[1], inner = t.count / max(1, n * c)
    precondition(sums.count == c)
    var partial = [Float](repeating: 0, count: c)
    t.data.withUnsafeBufferPointer { x in
    partial.withUnsafeMutableBufferPointer { partial in
        for img in 0..<n {
            for ch in 0..<c {
                let base = (img * c + ch) * inner
                var s = partial[ch]
                for i in base..<(base + inner) { s += x[i] }
                partial[ch] = s
            }
        }
    }
    }
    for ch in 0..<c { sums.data[ch] += partial[ch] }
}

/// Adds per-worker partial gradients into `total`, in worker order.
func addPartials(_ partials: [[Float]], into total: inout Tensor) {
    total.data.withUnsafeMutableBufferPointer { t in
        for part in partials {
            precondition(part.count == t.count)
            for i in 0..<t.count { t[i] += part[i] }
        }
    }
}
