/// Whole-batch convolutions on FastGemm for the training kernels: a conv2d, a conv-transpose2d,
/// and the input gradients of both (each the other's adjoint), run as `PhasedConv`s built for the
/// call (the weights change every step). Each returns nil where FastGemm is off, the output has
/// fewer channels than a panel of the packed weights, or the phases do not fit; the caller then
/// keeps its im2col + OpenBLAS path. The references are the same as the callers'.
enum FastConv {
    static func usable(outChannels: Int) -> Bool { FastGemm.enabled && outChannels >= FastGemm.panelRows }

    /// conv2d: x (N, C, H, W), weight (O, C, kh, kw).
    static func conv(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) -> Tensor? {
        guard usable(outChannels: g.outChannels),
              let p = PhasedConv(conv: weight, bias: bias, geometry: g, inHeight: x.shape[2], inWidth: x.shape[3],
                                 activation: .identity), p.fast else { return nil }
        return run(p, x)
    }

    /// conv-transpose2d: x (N, C, H, W), weight (C, O, kh, kw).
    static func convTranspose(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) -> Tensor? {
        guard usable(outChannels: g.outChannels),
              let p = PhasedConv(convTranspose: weight, bias: bias, geometry: g, inHeight: x.shape[2],
                                 inWidth: x.shape[3], activation: .identity), p.fast else { return nil }
        return run(p, x)
    }

    /// The input gradient (N, C, H, W) of conv2d `g` from its output gradient: a conv-transpose2d
    /// of dY with the same weight, read as (O, C, kh, kw) = (in, out, kh, kw), and the output
    /// padding that restores H and W.
    static func convInputGradient(_ dy: Tensor, weight: Tensor, geometry g: ConvGeometry, height h: Int, width w: Int) -> Tensor? {
        let (oh, ow) = (dy.shape[2], dy.shape[3])
        var adjoint = ConvGeometry(inChannels: g.outChannels, outChannels: g.inChannels,
                                   kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                                   strideHeight: g.strideHeight, strideWidth: g.strideWidth, padding: g.padding)
        let (bh, bw) = adjoint.transposedOutputSize(height: oh, width: ow)
        adjoint.outputPaddingHeight = h - bh
        adjoint.outputPaddingWidth = w - bw
        guard (0..<g.strideHeight).contains(h - bh), (0..<g.strideWidth).contains(w - bw) else { return nil }
        return convTranspose(dy, weight: weight, bias: nil, geometry: adjoint)
    }

    /// The input gradient (N, C, H, W) of conv-transpose2d `g` from its output gradient: a conv2d
    /// of dY with the same weight, read as (C, O, kh, kw) = (out, in, kh, kw).
    static func convTransposeInputGradient(_ dy: Tensor, weight: Tensor, geometry g: ConvGeometry,
                                           height h: Int, width w: Int) -> Tensor? {
        let adjoint = ConvGeometry(inChannels: g.outChannels, outChannels: g.inChannels,
                                   kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                                   strideHeight: g.strideHeight, strideWidth: g.strideWidth, padding: g.padding)
        guard adjoint.convOutputSize(height: dy.shape[2], width: dy.shape[3]) == (h, w) else { return nil }
        return conv(dy, weight: weight, bias: nil, geometry: adjoint)
    }

    private static func run(_ p: PhasedConv, _ x: Tensor) -> Tensor {
        let n = x.shape[0], workers = Parallel.workerCount
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
