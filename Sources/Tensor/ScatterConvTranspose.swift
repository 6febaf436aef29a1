/// conv-transpose2d for small inputs with many channels: one sgemm over several images, columns
/// (O*kh*kw, images*H*W) = W^T (O*kh*kw, C) * X (C, images*H*W), then a scatter-add of each
/// image's columns into its output, with bias and activation fused after.
///
/// No padding is multiplied and the product is large, which beats `PhasedConv` where its phases
/// are only a few positions wide (DCGAN's 4x4 and 8x8 stages). The plain reference is
/// `ConvTranspose2d.forwardNaive`.
public struct ScatterConvTranspose: Sendable {
    public let geometry: ConvGeometry
    public let inHeight: Int, inWidth: Int
    public let outHeight: Int, outWidth: Int
    /// (C, O, kh, kw) as PyTorch stores it.
    let weight: [Float]
    let bias: [Float]
    public let activation: ActivationKind
    /// Images per product and per-worker scratch (floats).
    public let imagesPerProduct: Int
    public let scratchPerWorker: Int

    public init(weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, inHeight h: Int, inWidth w: Int,
                activation: ActivationKind) {
        precondition(weight.shape == [g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth])
        geometry = g
        inHeight = h; inWidth = w
        (outHeight, outWidth) = g.transposedOutputSize(height: h, width: w)
        self.weight = weight.data
        self.bias = bias?.data ?? [Float](repeating: 0, count: g.outChannels)
        self.activation = activation
        imagesPerProduct = max(1, min(16, 256 / max(1, h * w)))
        let rows = g.outChannels * g.kernelHeight * g.kernelWidth
        scratchPerWorker = (g.inChannels + rows) * h * w * imagesPerProduct
    }

    public var multiplyAdds: Int {
        geometry.inChannels * geometry.outChannels * geometry.kernelHeight * geometry.kernelWidth * inHeight * inWidth
    }

    /// x (N, C, H, W) -> y (N, O, OH, OW). Splits images over workers, or, for fewer images
    /// than workers, output channels.
    public func forward(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, workers: Int = Parallel.workerCount) {
        let g = geometry
        if n >= workers || workers == 1 {
            Parallel.forGroups(n, group: Parallel.groupSize(n, most: imagesPerProduct, workers: workers), maxWorkers: workers) { images, worker in
                run(images: images, channels: 0..<g.outChannels, x, y, scratch + worker * scratchPerWorker)
            }
            return
        }
        for img in 0..<n {
            Parallel.forChunks(g.outChannels, maxWorkers: workers) { channels, worker in
                run(images: img..<(img + 1), channels: channels, x, y, scratch + worker * scratchPerWorker)
            }
        }
    }

    private func run(images: Range<Int>, channels: Range<Int>, _ x: UnsafePointer<Float>,
                     _ y: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) {
        let g = geometry
        let (c, h, w) = (g.inChannels, inHeight, inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let plane = h * w, count = images.count, ld = count * plane
        let k = kh * kw, allRows = g.outChannels * k
        // X (C, images * H * W); one image is already that layout.
        let xs: UnsafePointer<Float>
        if count == 1 {
            xs = x + images.lowerBound * c * plane
        } else {
            for (gi, img) in images.enumerated() {
                for ch in 0..<c {
                    (scratch + ch * ld + gi * plane).update(from: x + (img * c + ch) * plane, count: plane)
                }
            }
            xs = UnsafePointer(scratch)
        }
        let cols = scratch + c * ld
        let rows = channels.count * k
        weight.withUnsafeBufferPointer { wt in
            Gemm.sgemm(transposeA: true, transposeB: false, m: rows, n: ld, k: c,
                       a: wt.baseAddress! + channels.lowerBound * k, lda: allRows, b: xs, ldb: ld,
                       c: cols, ldc: ld)
        }
        let outPlane = outHeight * outWidth
        let sw = g.strideWidth
        let ranges = (0..<kw).map { kj in PhaseGeometry.inside(start: kj - g.padding.left, step: sw, count: w, size: outWidth) }
        let common = (ranges.map(\.0).max() ?? 0, ranges.map(\.1).min() ?? 0)
        // Channel-major: each column row is read once, through all images, in order.
        for (ci, o) in channels.enumerated() {
            for (gi, img) in images.enumerated() {
                let dst = y + (img * g.outChannels + o) * outPlane
                dst.update(repeating: 0, count: outPlane)
                // Columns ix in lo[kj]..<hi[kj] land inside the output; over the range all kernel
                // columns share, one pass adds every kj.
                for ki in 0..<kh {
                    let rowBase = cols + (ci * k + ki * kw) * ld + gi * plane
                    for iy in 0..<h {
                        let oy = iy * g.strideHeight - g.padding.top + ki
                        if oy < 0 || oy >= outHeight { continue }
                        let line = dst + oy * outWidth - g.padding.left
                        let src = rowBase + iy * w
                        for kj in 0..<kw {
                            let (lo, hi) = ranges[kj]
                            let s = src + kj * ld, l = line + kj
                            if common.0 >= common.1 {
                                for ix in lo..<hi { l[ix * sw] += s[ix] }
                            } else {
                                for ix in lo..<common.0 { l[ix * sw] += s[ix] }
                                for ix in common.1..<hi { l[ix * sw] += s[ix] }
                            }
                        }
                        if common.0 < common.1 {
                            for ix in common.0..<common.1 {
                                var p = src + ix
                                let l = line + ix * sw
                                for kj in 0..<kw { l[kj] += p.pointee; p += ld }
                            }
                        }
                    }
                }
                let b = bias[o]
                switch activation {
                case .relu: for i in 0..<outPlane { dst[i] = max(dst[i] + b, 0) }
                case .identity: for i in 0..<outPlane { dst[i] += b }
                default: for i in 0..<outPlane { dst[i] = activation.value(dst[i] + b) }
                }
            }
        }
    }
}
