/// conv2d forward: FastGemm over the batch where it applies (FastConv), else im2col + sgemm per
/// image; and the plain-loop reference beside it.

public enum Conv2d {
    /// input (N, C, H, W), weight (O, C, kh, kw), bias (O) or nil -> (N, O, OH, OW).
    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?,
                               geometry g: ConvGeometry, policy: KernelPolicy = .default) -> Tensor {
        let (n, h, w) = checkInput(input, weight: weight, geometry: g)
        if let fast = FastConv.conv(input, weight: weight, bias: bias, geometry: g, policy: policy) { return fast }
        let (oh, ow) = g.convOutputSize(height: h, width: w)
        var output = Tensor(zeros: [n, g.outChannels, oh, ow])
        let inPlane = g.inChannels * h * w, outPlane = g.outChannels * oh * ow
        let patch = g.patchSize, positions = oh * ow
        let direct = g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1
            && g.strideWidth == 1 && g.padding == Padding2D(0)
        let workers = min(n, policy.workers)
        var scratch = [[Float]](repeating: [], count: workers)
        if !direct { for i in 0..<workers { scratch[i] = [Float](repeating: 0, count: patch * positions) } }
        input.data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { wt in
                output.data.withUnsafeMutableBufferPointer { y in
                    scratch.withUnsafeMutableBufferPointer { scratchBuffers in
                        let yBase = y.baseAddress!, xBase = x.baseAddress!
                        let scratchBase = scratchBuffers.baseAddress!
                        Parallel.forChunks(n, maxWorkers: workers) { images, worker in
                            for img in images {
                                let src = xBase + img * inPlane
                                let dst = yBase + img * outPlane
                                if direct {
                                    Gemm.sgemm(transposeA: false, transposeB: false, m: g.outChannels,
                                               n: positions, k: patch, a: wt.baseAddress!, lda: patch,
                                               b: src, ldb: positions, c: dst, ldc: positions)
                                } else {
                                    scratchBase[worker].withUnsafeMutableBufferPointer { col in
                                        im2col(src, height: h, width: w, geometry: g,
                                               outHeight: oh, outWidth: ow, into: col.baseAddress!)
                                        Gemm.sgemm(transposeA: false, transposeB: false, m: g.outChannels,
                                                   n: positions, k: patch, a: wt.baseAddress!, lda: patch,
                                                   b: col.baseAddress!, ldb: positions, c: dst, ldc: positions)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let bias { addChannelBias(&output, bias) }
        return output
    }

    /// Unfolds one image (C, H, W) into columns (C*kh*kw, OH*OW); zero where the patch
    /// reaches into padding. Each column row is a zero prefix, a copy (strided when the stride
    /// is) and a zero suffix, so the inner loops carry no bounds tests.
    public static func im2col(_ x: UnsafePointer<Float>, height h: Int, width w: Int,
                              geometry g: ConvGeometry, outHeight oh: Int, outWidth ow: Int,
                              into col: UnsafeMutablePointer<Float>) {
        let sx = g.strideWidth
        var row = 0
        for c in 0..<g.inChannels {
            let plane = x + c * h * w
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    let dst = col + row * oh * ow
                    let offset = kj - g.padding.left                     // ix = ox * sx + offset
                    let (ox0, ox1) = PhaseGeometry.inside(start: offset, step: sx, count: ow, size: w)
                    for oy in 0..<oh {
                        let iy = oy * g.strideHeight - g.padding.top + ki
                        let line = dst + oy * ow
                        if iy < 0 || iy >= h || ox0 >= ox1 {
                            line.update(repeating: 0, count: ow)
                            continue
                        }
                        if ox0 > 0 { line.update(repeating: 0, count: ox0) }
                        if ox1 < ow { (line + ox1).update(repeating: 0, count: ow - ox1) }
                        let srcLine = plane + iy * w + offset
                        if sx == 1 {
                            (line + ox0).update(from: srcLine + ox0, count: ox1 - ox0)
                        } else {
                            for ox in ox0..<ox1 { line[ox] = srcLine[ox * sx] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Plain-loop reference: the definition of a cross-correlation with zero padding.
    public static func forwardNaive(_ input: Tensor, weight: Tensor, bias: Tensor?,
                                    geometry g: ConvGeometry) -> Tensor {
        let (n, h, w) = checkInput(input, weight: weight, geometry: g)
        let (oh, ow) = g.convOutputSize(height: h, width: w)
        var out = Tensor(zeros: [n, g.outChannels, oh, ow])
        for img in 0..<n {
            for o in 0..<g.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var sum: Float = bias?.data[o] ?? 0
                        for c in 0..<g.inChannels {
                            for ki in 0..<g.kernelHeight {
                                let iy = oy * g.strideHeight - g.padding.top + ki
                                if iy < 0 || iy >= h { continue }
                                for kj in 0..<g.kernelWidth {
                                    let ix = ox * g.strideWidth - g.padding.left + kj
                                    if ix < 0 || ix >= w { continue }
                                    let wv = weight.data[((o * g.inChannels + c) * g.kernelHeight + ki) * g.kernelWidth + kj]
                                    sum += wv * input.data[((img * g.inChannels + c) * h + iy) * w + ix]
                                }
                            }
                        }
                        out.data[((img * g.outChannels + o) * oh + oy) * ow + ox] = sum
                    }
                }
            }
        }
        return out
    }

    private static func checkInput(_ input: Tensor, weight: Tensor,
                                   geometry g: ConvGeometry) -> (Int, Int, Int) {
        precondition(input.rank == 4 && input.shape[1] == g.inChannels,
                     "conv2d input \(input.shape) does not have \(g.inChannels) channels")
        precondition(weight.shape == [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth],
                     "conv2d weight \(weight.shape) does not match the geometry")
        return (input.shape[0], input.shape[2], input.shape[3])
    }
}

/// Adds bias[c] to every value of channel c of an (N, C, ...) tensor.
public func addChannelBias(_ t: inout Tensor, _ bias: Tensor) {
    let n = t.shape[0], c = t.shape[1]
    precondition(bias.count == c, "bias of \(bias.count) values for \(c) channels")
    let inner = t.count / max(1, n * c)
    t.data.withUnsafeMutableBufferPointer { y in
        for img in 0..<n {
            for ch in 0..<c {
                let b = bias.data[ch]
                let base = (img * c + ch) * inner
                for i in 0..<inner { y[base + i] += b }
            }
        }
    }
}
