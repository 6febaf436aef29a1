/// Whole-batch convolutions on FastGemm for the training kernels: a conv2d, a conv-transpose2d,
/// and the input gradients of both (each the other's adjoint), run as `PhasedConv`s built for the
/// call (the weights change every step) under `policy`. Each returns nil where FastGemm is off, the output has
/// fewer channels than a panel of the packed weights, or the phases do not fit; the caller then
/// keeps its im2col + OpenBLAS path. The references are the same as the callers'.
enum FastConv {
    static func usable(outChannels: Int, _ policy: KernelPolicy) -> Bool {
        policy.usesFastGemm && outChannels >= FastGemm.panelRows
    }

    /// conv2d: x (N, C, H, W), weight (O, C, kh, kw).
    static func conv(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry,
                     policy: KernelPolicy = .default) -> Tensor? {
        guard usable(outChannels: g.outChannels, policy),
              let p = PhasedConv(conv: weight, bias: bias, geometry: g, inHeight: x.shape[2], inWidth: x.shape[3],
                                 activation: .identity, policy: policy), p.engine.readsPaddedGroups else { return nil }
        return run(p, x, workers: policy.workers)
    }

    /// conv-transpose2d: x (N, C, H, W), weight (C, O, kh, kw).
    static func convTranspose(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry,
                              policy: KernelPolicy = .default) -> Tensor? {
        guard usable(outChannels: g.outChannels, policy),
              let p = PhasedConv(convTranspose: weight, bias: bias, geometry: g, inHeight: x.shape[2],
                                 inWidth: x.shape[3], activation: .identity, policy: policy),
              p.engine.readsPaddedGroups else { return nil }
        return run(p, x, workers: policy.workers)
    }

    /// The input gradient (N, C, H, W) of conv2d `g` from its output gradient: a conv-transpose2d
    /// of dY with the same weight, read as (O, C, kh, kw) = (in, out, kh, kw), and the output
    /// padding that restores H and W.
    static func convInputGradient(_ dy: Tensor, weight: Tensor, geometry g: ConvGeometry, height h: Int, width w: Int,
                                  policy: KernelPolicy = .default) -> Tensor? {
        let (oh, ow) = (dy.shape[2], dy.shape[3])
        var adjoint = g.adjoint
        let (bh, bw) = adjoint.transposedOutputSize(height: oh, width: ow)
        adjoint.outputPaddingHeight = h - bh
        adjoint.outputPaddingWidth = w - bw
        guard (0..<g.strideHeight).contains(h - bh), (0..<g.strideWidth).contains(w - bw) else { return nil }
        return convTranspose(dy, weight: weight, bias: nil, geometry: adjoint, policy: policy)
    }

    /// The input gradient (N, C, H, W) of conv-transpose2d `g` from its output gradient: a conv2d
    /// of dY with the same weight, read as (C, O, kh, kw) = (out, in, kh, kw).
    static func convTransposeInputGradient(_ dy: Tensor, weight: Tensor, geometry g: ConvGeometry,
                                           height h: Int, width w: Int, policy: KernelPolicy = .default) -> Tensor? {
        let adjoint = g.adjoint
        guard adjoint.convOutputSize(height: dy.shape[2], width: dy.shape[3]) == (h, w) else { return nil }
        return conv(dy, weight: weight, bias: nil, geometry: adjoint, policy: policy)
    }

    /// A weight gradient on FastGemm: dW (M, C * kh * kw) += sum over images and positions p of
    /// a[img, m, p] * x[img, c, p's input row + ki, column + kj], the positions those of conv2d
    /// `g` over x (N, C, H, W); a is (N, M, P). A conv2d's gradient is (a: dY, x: its input); a
    /// conv-transpose2d's is (a: its input, x: dY under the adjoint geometry). x is copied once
    /// into a zero-padded window. Columns are split over the workers in blocks where there are
    /// two or more blocks a worker (or fewer images than workers); else images are, each worker
    /// adding into its own partial sums, summed in worker order. False (nothing done) where
    /// FastGemm is off or M is under a panel.
    static func weightGradient(_ a: Tensor, _ x: Tensor, geometry g: ConvGeometry, into dW: inout Tensor,
                               policy: KernelPolicy = .default) -> Bool {
        let (n, m, c, h, w) = (a.shape[0], a.shape[1], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = g.convOutputSize(height: h, width: w)
        let (kh, kw, sy, sx) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth)
        let positions = oh * ow, columns = c * kh * kw, depth = n * positions
        guard usable(outChannels: m, policy), x.shape[0] == n, a.count == n * m * positions, dW.count == m * columns,
              positions > 0, depth < Int(Int32.max) else { return false }
        let (hp, wp) = ((oh - 1) * sy + kh, (ow - 1) * sx + kw)
        let plane = hp * wp
        guard c * n * plane < Int(Int32.max) else { return false }
        // x as (C, N, hp, wp), window row r = input row r - padding.top.
        var window = [Float](repeating: 0, count: c * n * plane)
        // A as (M, N * P): row m, column img * P + p.
        var aRows = [Float](unsafeUninitializedCapacity: m * depth) { $1 = $0.count }
        x.data.withUnsafeBufferPointer { xs in
        a.data.withUnsafeBufferPointer { av in
        window.withUnsafeMutableBufferPointer { wb in
        aRows.withUnsafeMutableBufferPointer { ar in
            Parallel.forChunks(c) { channels, _ in
                PhasedConv.copyWindow(xs.baseAddress!, images: 0..<n, channels: channels, of: (c, h, w),
                                      top: -g.padding.top, left: -g.padding.left, height: hp, width: wp, into: wb.baseAddress!)
            }
            Parallel.forChunks(m) { rows, _ in
                for row in rows {
                    for img in 0..<n {
                        (ar.baseAddress! + row * depth + img * positions)
                            .update(from: av.baseAddress! + (img * m + row) * positions, count: positions)
                    }
                }
            }
        }
        }
        }
        }
        var offsets = [Int](repeating: 0, count: columns)
        for ch in 0..<c { for ki in 0..<kh { for kj in 0..<kw { offsets[(ch * kh + ki) * kw + kj] = ch * n * plane + ki * wp + kj } } }
        var at = [Int32](repeating: 0, count: depth)
        for img in 0..<n { for oy in 0..<oh { for ox in 0..<ow {
            at[(img * oh + oy) * ow + ox] = Int32(img * plane + oy * sy * wp + ox * sx)
        } } }
        let workers = policy.workers, block = FastGemm.blockColumns
        let splitColumns = columns >= 2 * block * workers || n < workers
        var partials = [[Float]](repeating: splitColumns ? [] : [Float](repeating: 0, count: m * columns), count: workers)
        // Split by columns, every worker reads all of A: pack it once.
        let shared = splitColumns ? aRows.withUnsafeBufferPointer { FastGemm.pack(m: m, k: depth, $0.baseAddress!, lda: depth) } : []
        window.withUnsafeBufferPointer { wb in
        aRows.withUnsafeBufferPointer { ar in
        offsets.withUnsafeBufferPointer { ob in
        at.withUnsafeBufferPointer { pb in
        dW.data.withUnsafeMutableBufferPointer { dw in
        partials.withUnsafeMutableBufferPointer { parts in
            let partsBase = parts.baseAddress!
            Parallel.forChunks(splitColumns ? (columns + block - 1) / block : n, maxWorkers: workers) { range, worker in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: FastGemm.scratchCount(rows: m)) { scratch in
                    if splitColumns {
                        let j0 = range.lowerBound * block, j1 = min(columns, range.upperBound * block)
                        FastGemm.multiply(m: m, n: j1 - j0, k: depth, packedA: shared,
                                          b: .implicitTransposed(wb.baseAddress!, offsets: ob.baseAddress! + j0, positions: pb.baseAddress!),
                                          into: .init(base: dw.baseAddress! + j0, rowStride: columns, beta: 1),
                                          scratch: scratch.baseAddress!)
                    } else {
                        let k0 = range.lowerBound * positions, k = range.count * positions
                        let packed = FastGemm.pack(m: m, k: k, ar.baseAddress! + k0, lda: depth)
                        partsBase[worker].withUnsafeMutableBufferPointer { part in
                            FastGemm.multiply(m: m, n: columns, k: k, packedA: packed,
                                              b: .implicitTransposed(wb.baseAddress!, offsets: ob.baseAddress!, positions: pb.baseAddress! + k0),
                                              into: .init(base: part.baseAddress!, rowStride: columns, beta: 1),
                                              scratch: scratch.baseAddress!)
                        }
                    }
                }
            }
        }
        }
        }
        }
        }
        }
        if !splitColumns { addPartials(partials, into: &dW) }
        return true
    }

    private static func run(_ p: PhasedConv, _ x: Tensor, workers: Int) -> Tensor {
        let n = x.shape[0]
        let count = n * p.outChannels * p.outHeight * p.outWidth
        let y = [Float](unsafeUninitializedCapacity: count) { out, initialised in
            var scratch = [Float](unsafeUninitializedCapacity: p.scratchPerWorker * workers) { $1 = $0.count }
            x.data.withUnsafeBufferPointer { xb in
                scratch.withUnsafeMutableBufferPointer { sb in
                    p.forward(xb.baseAddress!, count: n, into: out.baseAddress!, scratch: sb.baseAddress!, workers: workers)
                }
            }
            initialised = count
        }
        return Tensor(shape: [n, p.outChannels, p.outHeight, p.outWidth], data: y)
    }
}
