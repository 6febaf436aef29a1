/// The shifted-product engine (`ConvEngine.shifted`, OpenBLAS): every axis reads consecutive
/// input rows and columns, so each phase runs as one sgemm per tap straight on a zero-padded copy
/// of the input, the positions running over whole padded rows (spare ones included); then the
/// fused write-back of the columns that are real outputs. The summed kernel is tap-major.
extension PhasedConv {
    /// The padded window and the product of enough images for about 768 positions.
    static func shiftedLayout(_ g: PhaseGeometry) -> Layout {
        let plane = g.paddedHeight * g.paddedWidth
        let images = max(1, min(16, 768 / plane))
        return Layout(imagesPerProduct: images,
                      scratchPerWorker: (g.inChannels + g.outChannels) * plane * images + g.paddedWidth + 64)
    }

    /// One phase on padded images: for each tap, product += W_tap (O, C) * shifted window
    /// (C, positions), the positions running over whole padded rows; then the fused write-back
    /// of the columns that are real outputs.
    func runShifted(_ p: Int, images: Range<Int>, rows: Range<Int>, _ xp: UnsafeMutablePointer<Float>,
                    _ y: UnsafeMutablePointer<Float>) {
        let ph = phases[p]
        let ty = ph.y.taps.count, tx = ph.x.taps.count
        let (hp, wp) = (paddedHeight, paddedWidth)
        let plane = hp * wp, g = images.count
        let cols = ph.x.outCount
        // Position q = gi * plane + (t - rows.lowerBound) * wp + u reads window row
        // (inStart_y - padTop) + t + ey, column (inStart_x - padLeft) + u + ex.
        let n = (g - 1) * plane + (rows.count - 1) * wp + cols
        let product = xp + inChannels * g * plane + wp + 64
        let o = outChannels, c = inChannels
        let base = (ph.y.inStart - padTop + rows.lowerBound) * wp + (ph.x.inStart - padLeft)
        // With one image, each tap skips the output rows whose input row is padding: those rows
        // of the product start at zero and the taps accumulate into the rest.
        func tapRows(_ ey: Int) -> Range<Int> {
            guard g == 1 else { return rows }
            let lo = max(rows.lowerBound, -ph.y.inStart - ey), hi = min(rows.upperBound, inHeight - ph.y.inStart - ey)
            return lo < hi ? lo..<hi : rows.lowerBound..<rows.lowerBound
        }
        let partial = ty * tx == 0 || (0..<ty).contains { tapRows($0) != rows }
        if partial { product.update(repeating: 0, count: o * n) }
        ph.weight.withUnsafeBufferPointer { tw in
            for ey in 0..<ty {
                let r = tapRows(ey)
                if r.isEmpty { continue }
                // Positions of rows r: q from (r.lo - rows.lo) * wp, count m.
                let q0 = (r.lowerBound - rows.lowerBound) * wp
                let m = g == 1 ? (r.count - 1) * wp + cols : n
                for ex in 0..<tx {
                    let e = ey * tx + ex
                    let b = UnsafePointer(xp + base + ey * wp + ex + q0)
                    let wt = tw.baseAddress! + e * o * c
                    let beta: Float = partial || e > 0 ? 1 : 0
                    if transposedProduct {
                        Gemm.sgemm(transposeA: true, transposeB: true, m: m, n: o, k: c, a: b, lda: g * plane,
                                   b: wt, ldb: c, beta: beta, c: product + q0 * o, ldc: o)
                    } else {
                        Gemm.sgemm(transposeA: false, transposeB: false, m: o, n: m, k: c, a: wt, lda: c,
                                   b: b, ldb: g * plane, beta: beta, c: product + q0, ldc: n)
                    }
                }
            }
        }
        let outPlane = outHeight * outWidth
        let (ps, os) = transposedProduct ? (o, 1) : (1, n)
        bias.withUnsafeBufferPointer { bb in
            for (gi, img) in images.enumerated() {
                let dstImage = y + img * o * outPlane
                for oc in 0..<o {
                    let bo = bb[oc]
                    for (li, t) in rows.enumerated() {
                        let s = product + oc * os + (gi * plane + li * wp) * ps
                        let line = dstImage + oc * outPlane + (ph.y.outStart + t * ph.y.outStep) * outWidth + ph.x.outStart
                        let step = ph.x.outStep
                        switch activation {
                        case .relu where ps == 1 && step == 1:
                            for u in 0..<cols { line[u] = max(s[u] + bo, 0) }
                        case .relu where ps == 1:
                            for u in 0..<cols { line[u * step] = max(s[u] + bo, 0) }
                        default:
                            for u in 0..<cols { line[u * step] = activation.value(s[u * ps] + bo) }
                        }
                    }
                }
            }
        }
    }
}
