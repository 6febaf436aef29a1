/// conv-transpose2d forward: FastGemm over the batch where it applies (FastConv), else sgemm into
/// columns, then col2im scatter-add; and the plain-loop reference beside it.

public enum ConvTranspose2d {
    /// input (N, C, H, W), weight (C, O, kh, kw) as PyTorch stores it, bias (O) or nil
    /// -> (N, O, OH, OW) with OH = (H - 1) * sh + kh - top - bottom + outputPaddingHeight.
    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?,
                               geometry g: ConvGeometry, policy: KernelPolicy = .default) -> Tensor {
        let (n, h, w) = checkInput(input, weight: weight, geometry: g)
        if let fast = FastConv.convTranspose(input, weight: weight, bias: bias, geometry: g, policy: policy) { return fast }
        let (oh, ow) = g.transposedOutputSize(height: h, width: w)
        var output = Tensor(zeros: [n, g.outChannels, oh, ow])
        let rows = g.outChannels * g.kernelHeight * g.kernelWidth, positions = h * w
        let inPlane = g.inChannels * positions, outPlane = g.outChannels * oh * ow
        let workers = min(n, policy.workers)
        var scratch = [[Float]](repeating: [], count: workers)
        for i in 0..<workers { scratch[i] = [Float](repeating: 0, count: rows * positions) }
        input.data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { wt in
                output.data.withUnsafeMutableBufferPointer { y in
                    scratch.withUnsafeMutableBufferPointer { scratchBuffers in
                        let xBase = x.baseAddress!, yBase = y.baseAddress!
                        let scratchBase = scratchBuffers.baseAddress!
                        Parallel.forChunks(n, maxWorkers: workers) { images, worker in
                            scratchBase[worker].withUnsafeMutableBufferPointer { col in
                                for img in images {
                                    // cols (O*kh*kw, H*W) = W^T (O*kh*kw, C) * X (C, H*W)
                                    Gemm.sgemm(transposeA: true, transposeB: false, m: rows, n: positions,
                                               k: g.inChannels, a: wt.baseAddress!, lda: rows,
                                               b: xBase + img * inPlane, ldb: positions,
                                               c: col.baseAddress!, ldc: positions)
                                    col2im(col.baseAddress!, height: h, width: w, geometry: g,
                                           outHeight: oh, outWidth: ow, into: yBase + img * outPlane)
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

    /// Scatter-adds columns (O*kh*kw, H*W) into one output image (O, OH, OW), dropping what
    /// falls into the cropped border.
    public static func col2im(_ col: UnsafePointer<Float>, height h: Int, width w: Int,
                              geometry g: ConvGeometry, outHeight oh: Int, outWidth ow: Int,
                              into y: UnsafeMutablePointer<Float>) {
        let sx = g.strideWidth
        var row = 0
        for o in 0..<g.outChannels {
            let plane = y + o * oh * ow
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    let src = col + row * h * w
                    let offset = kj - g.padding.left                      // ox = ix * sx + offset
                    let (ix0, ix1) = PhaseGeometry.inside(start: offset, step: sx, count: w, size: ow)
                    row += 1
                    if ix0 >= ix1 { continue }
                    for iy in 0..<h {
                        let oy = iy * g.strideHeight - g.padding.top + ki
                        if oy < 0 || oy >= oh { continue }
                        let line = plane + oy * ow + offset, srcLine = src + iy * w
                        if sx == 1 {
                            for ix in ix0..<ix1 { line[ix] += srcLine[ix] }
                        } else {
                            for ix in ix0..<ix1 { line[ix * sx] += srcLine[ix] }
                        }
                    }
                }
            }
        }
    }

    /// Plain-loop reference: every input value spreads weight-scaled copies over the output.
    public static func forwardNaive(_ input: Tensor, weight: Tensor, bias: Tensor?,
                                    geometry g: ConvGeometry) -> Tensor {
        let (n, h, w) = checkInput(input, weight: weight, geometry: g)
        let (oh, ow) = g.transposedOutputSize(height: h, width: w)
        var out = Tensor(zeros: [n, g.outChannels, oh, ow])
        for img in 0..<n {
            for c in 0..<g.inChannels {
                for iy in 0..<h {
                    for ix in 0..<w {
                        let v = input.data[((img * g.inChannels + c) * h + iy) * w + ix]
                        for o in 0..<g.outChannels {
                            for ki in 0..<g.kernelHeight {
                                let oy = iy * g.strideHeight - g.padding.top + ki
                                if oy < 0 || oy >= oh { continue }
                                for kj in 0..<g.kernelWidth {
                                    let ox = ix * g.strideWidth - g.padding.left + kj
                                    if ox < 0 || ox >= ow { continue }
                                    let wv = weight.data[((c * g.outChannels + o) * g.kernelHeight + ki) * g.kernelWidth + kj]
                                    out.data[((img * g.outChannels + o) * oh + oy) * ow + ox] += v * wv
                                }
                            }
                        }
                    }
                }
            }
        }
        if let bias { addChannelBias(&out, bias) }
        return out
    }

    private static func checkInput(_ input: Tensor, weight: Tensor,
                                   geometry g: ConvGeometry) -> (Int, Int, Int) {
        precondition(input.rank == 4 && input.shape[1] == g.inChannels,
                     "conv-transpose2d input \(input.shape) does not have \(g.inChannels) channels")
        precondition(weight.shape == [g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth],
                     "conv-transpose2d weight \(weight.shape) does not match the geometry")
        return (input.shape[0], input.shape[2], input.shape[3])
    }
}
