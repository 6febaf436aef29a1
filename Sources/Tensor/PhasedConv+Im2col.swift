/// The im2col engine (`ConvEngine.im2col`, OpenBLAS): everything no other engine takes (strided
/// convolutions without a vector path, windows with much spare). Each phase gathers a column
/// matrix of its patches, runs one sgemm and writes back with bias and activation fused.
extension PhasedConv {
    /// The column matrix and the product of enough images for about 384 positions.
    static func im2colLayout(smallest: Int, columns: Int, product: Int) -> Layout {
        let images = max(1, min(16, 384 / max(1, smallest)))
        return Layout(imagesPerProduct: images, scratchPerWorker: (columns + product) * images)
    }

    /// One phase, images `images`, phase rows `rows`: gather columns, one sgemm, fused write-back.
    func runIm2col(_ p: Int, images: Range<Int>, rows: Range<Int>, _ x: UnsafePointer<Float>,
                   _ y: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) {
        let ph = phases[p]
        let ty = ph.y.taps.count, tx = ph.x.taps.count
        let cols = ph.x.outCount, per = rows.count * cols
        let positions = per * images.count
        let patch = inChannels * ty * tx
        let col = scratch, product = scratch + columnScratch * imagesPerProduct
        let h = inHeight, w = inWidth
        if patch > 0 {
            // col (C*ty*tx, images * rows * cols)
            for (gi, img) in images.enumerated() {
                let src = x + img * inChannels * h * w
                var r = 0
                for c in 0..<inChannels {
                    let plane = src + c * h * w
                    for ey in 0..<ty {
                        for ex in 0..<tx {
                            let dst = col + r * positions + gi * per
                            // Columns u in lo..<hi read inside the row; the rest read padding.
                            let ix0 = ph.x.inStart + ex, step = ph.x.inStep
                            let (lo, hi) = PhaseGeometry.inside(start: ix0, step: step, count: cols, size: w)
                            for (li, t) in rows.enumerated() {
                                let iy = ph.y.inStart + t * ph.y.inStep + ey
                                let line = dst + li * cols
                                if iy < 0 || iy >= h || lo >= hi { line.update(repeating: 0, count: cols); continue }
                                let srcLine = plane + iy * w + ix0
                                if lo > 0 { line.update(repeating: 0, count: lo) }
                                if step == 1 && hi - lo > 24 {
                                    (line + lo).update(from: srcLine + lo, count: hi - lo)
                                } else if step == 1 {
                                    for u in lo..<hi { line[u] = srcLine[u] }   // short rows: no call
                                } else {
                                    for u in lo..<hi { line[u] = srcLine[u * step] }
                                }
                                if hi < cols { (line + hi).update(repeating: 0, count: cols - hi) }
                            }
                            r += 1
                        }
                    }
                }
            }
            ph.weight.withUnsafeBufferPointer { wt in
                if transposedProduct {
                    // product^T (positions, O) = col^T * W^T: few output channels make a poor row count.
                    Gemm.sgemm(transposeA: true, transposeB: true, m: positions, n: outChannels, k: patch,
                               a: col, lda: positions, b: wt.baseAddress!, ldb: patch, c: product, ldc: outChannels)
                } else {
                    Gemm.sgemm(transposeA: false, transposeB: false, m: outChannels, n: positions, k: patch,
                               a: wt.baseAddress!, lda: patch, b: col, ldb: positions, c: product, ldc: positions)
                }
            }
        } else {
            product.update(repeating: 0, count: outChannels * positions)
        }
        // y[o, outStart + t*step, ...] = act(product + bias)
        let plane = outHeight * outWidth
        bias.withUnsafeBufferPointer { b in
            for (gi, img) in images.enumerated() {
                let dstImage = y + img * outChannels * plane
                for o in 0..<outChannels {
                    let bo = b[o]
                    let src = transposedProduct ? product + gi * per * outChannels + o : product + o * positions + gi * per
                    let ps = transposedProduct ? outChannels : 1
                    for (li, t) in rows.enumerated() {
                        let oy = ph.y.outStart + t * ph.y.outStep
                        let line = dstImage + o * plane + oy * outWidth
                        let s = src + li * cols * ps
                        let ox0 = ph.x.outStart, step = ph.x.outStep
                        switch activation {
                        case .relu where ps == 1:
                            for u in 0..<cols { line[ox0 + u * step] = max(s[u] + bo, 0) }
                        case .identity where ps == 1:
                            for u in 0..<cols { line[ox0 + u * step] = s[u] + bo }
                        default:
                            for u in 0..<cols { line[ox0 + u * step] = activation.value(s[u * ps] + bo) }
                        }
                    }
                }
            }
        }
    }
}
