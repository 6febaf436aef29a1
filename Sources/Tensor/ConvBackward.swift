/// Backward kernels of conv2d and conv-transpose2d (Conv2d.swift, ConvTranspose2d.swift). Each
/// takes exactly what its forward kept (input, weight) and the gradient of the loss with respect
/// to the forward's output; parameter gradients are accumulated (`+=`) into the caller's tensors,
/// the input gradient is returned fresh. Both gradients run on FastGemm where `FastConv` takes
/// them (under `policy`), else on im2col / col2im around OpenBLAS, the batch split over workers
/// with per-worker partial weight gradients summed in worker order (deterministic for a given
/// worker count).

/// Per-worker buffers of an im2col backward pass, in one allocation: worker w's partial weight
/// gradient, its columns and its column gradients, each empty where that gradient is not wanted.
struct WorkerBuffers {
    let partial: Int, columns: Int, columnGradient: Int
    var storage: [Float]

    init(workers: Int, partial: Int, columns: Int, columnGradient: Int) {
        self.partial = partial; self.columns = columns; self.columnGradient = columnGradient
        storage = [Float](repeating: 0, count: workers * (partial + columns + columnGradient))
    }

    var perWorker: Int { partial + columns + columnGradient }

    /// Runs `pass(images, scratch, x, weight, dy, dx)` over the batch's `n` images, one chunk a
    /// worker, `scratch` the worker's own slice of these buffers and `dx` (nil unless
    /// `needInputGradient`) the input gradient's values; returns those values (empty without).
    mutating func runImages(_ n: Int, workers: Int, input: Tensor, weight: Tensor, gradOutput: Tensor,
                            needInputGradient: Bool,
                            _ pass: (Range<Int>, UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                     UnsafePointer<Float>, UnsafeMutablePointer<Float>?) -> Void) -> [Float] {
        var dxStorage = needInputGradient ? [Float](repeating: 0, count: input.count) : []
        let perWorker = self.perWorker
        withValues(input, weight, gradOutput) { x, wt, dy in
            dxStorage.withUnsafeMutableBufferPointer { dx in
                storage.withUnsafeMutableBufferPointer { scratch in
                    let dxBase = needInputGradient ? dx.baseAddress : nil
                    Parallel.forChunks(n, maxWorkers: workers) { images, worker in
                        pass(images, scratch.baseAddress! + worker * perWorker, x, wt, dy, dxBase)
                    }
                }
            }
        }
        return dxStorage
    }

    /// Adds each worker's partial weight gradient into `total`, in worker order.
    func addPartials(into total: inout Tensor) {
        total.data.withUnsafeMutableBufferPointer { t in
            storage.withUnsafeBufferPointer { s in
                precondition(partial == t.count)
                for w in 0..<(s.count / max(1, perWorker)) {
                    let part = s.baseAddress! + w * perWorker
                    for i in 0..<t.count { t[i] += part[i] }
                }
            }
        }
    }
}

/// The end of an im2col backward pass: the workers' weight gradients (and the bias's) added
/// in, and the input gradient, FastGemm's where it ran.
func finishIm2col(_ buffers: WorkerBuffers, dx: [Float], input: Tensor, gradOutput: Tensor, fastInput: Tensor?,
                  needWeightGradient: Bool, gradWeight: inout Tensor, gradBias: inout Tensor?) -> Tensor? {
    if needWeightGradient {
        buffers.addPartials(into: &gradWeight)
        if gradBias != nil { accumulateChannelSums(gradOutput, into: &gradBias!) }
    }
    if let fastInput { return fastInput }
    return dx.isEmpty ? nil : Tensor(shape: input.shape, data: dx)
}

/// `body` with plain pointers to three tensors' values.
func withValues<R>(_ a: Tensor, _ b: Tensor, _ c: Tensor,
                   _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
    a.data.withUnsafeBufferPointer { a in
        b.data.withUnsafeBufferPointer { b in
            c.data.withUnsafeBufferPointer { c in body(a.baseAddress!, b.baseAddress!, c.baseAddress!) }
        }
    }
}

public enum Conv2dBackward {
    /// input (N, C, H, W), weight (O, C, kh, kw), gradOutput (N, O, OH, OW).
    /// Adds into gradWeight (O, C, kh, kw) and gradBias (O) unless `needWeightGradient` is
    /// false (then both are left alone); returns gradInput (N, C, H, W) when `needInputGradient`.
    public static func backward(input: Tensor, weight: Tensor, gradOutput: Tensor, geometry g: ConvGeometry,
                                gradWeight: inout Tensor, gradBias: inout Tensor?,
                                needInputGradient wantInput: Bool = true, needWeightGradient wantWeight: Bool = true,
                                policy: KernelPolicy = .default) -> Tensor? {
        let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3])
        let (oh, ow) = g.convOutputSize(height: h, width: w)
        precondition(gradOutput.shape == [n, g.outChannels, oh, ow], "conv2d gradOutput \(gradOutput.shape) does not fit")
        precondition(gradWeight.shape == weight.shape)
        // Both gradients on FastGemm where they apply; the loop below does what is left.
        let fastInput = wantInput
            ? FastConv.convInputGradient(gradOutput, weight: weight, geometry: g, height: h, width: w, policy: policy) : nil
        let needInputGradient = wantInput && fastInput == nil
        let fastWeights = wantWeight && FastConv.weightGradient(gradOutput, input, geometry: g, into: &gradWeight, policy: policy)
        let needWeightGradient = wantWeight && !fastWeights
        if fastWeights, gradBias != nil { accumulateChannelSums(gradOutput, into: &gradBias!) }
        if !needInputGradient && !needWeightGradient { return fastInput }
        let patch = g.patchSize, positions = oh * ow
        let workers = min(n, policy.workers)
        var buffers = WorkerBuffers(workers: workers, partial: needWeightGradient ? weight.count : 0,
                                    columns: needWeightGradient ? patch * positions : 0,
                                    columnGradient: needInputGradient ? patch * positions : 0)
        let (columnsAt, gradientAt) = (buffers.partial, buffers.partial + buffers.columns)
        let dx = buffers.runImages(n, workers: workers, input: input, weight: weight, gradOutput: gradOutput,
                                   needInputGradient: needInputGradient) { images, own, x, wt, dy, dx in
            im2colPass(images, g, height: h, width: w, x: x, weight: wt, dy: dy, dx: dx,
                       dW: needWeightGradient ? own : nil, columns: own + columnsAt, columnGradient: own + gradientAt)
        }
        return finishIm2col(buffers, dx: dx, input: input, gradOutput: gradOutput, fastInput: fastInput,
                            needWeightGradient: needWeightGradient, gradWeight: &gradWeight, gradBias: &gradBias)
    }

    /// Images `images` of the im2col pass: with `dW`, dW (O, K) += dY (O, P) * col^T (P, K);
    /// with `dx`, dcol (K, P) = W^T (K, O) * dY (O, P), scattered onto the image (col2im of the
    /// adjoint: columns (C*kh*kw, OH*OW) back onto (C, H, W)).
    private static func im2colPass(_ images: Range<Int>, _ g: ConvGeometry, height h: Int, width w: Int,
                                   x: UnsafePointer<Float>, weight wt: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                   dx: UnsafeMutablePointer<Float>?, dW: UnsafeMutablePointer<Float>?,
                                   columns col: UnsafeMutablePointer<Float>, columnGradient dcol: UnsafeMutablePointer<Float>) {
        let (oh, ow) = g.convOutputSize(height: h, width: w)
        let patch = g.patchSize, positions = oh * ow
        let inPlane = g.inChannels * h * w, outPlane = g.outChannels * positions
        let adjoint = g.adjoint
        for img in images {
            let dyImg = dy + img * outPlane
            if let dW {
                Conv2d.im2col(x + img * inPlane, height: h, width: w, geometry: g, outHeight: oh, outWidth: ow, into: col)
                Gemm.sgemm(transposeA: false, transposeB: true, m: g.outChannels, n: patch, k: positions,
                           a: dyImg, lda: positions, b: col, ldb: positions, beta: 1, c: dW, ldc: patch)
            }
            if let dx {
                Gemm.sgemm(transposeA: true, transposeB: false, m: patch, n: positions, k: g.outChannels,
                           a: wt, lda: patch, b: dyImg, ldb: positions, c: dcol, ldc: positions)
                ConvTranspose2d.col2im(dcol, height: oh, width: ow, geometry: adjoint, outHeight: h, outWidth: w,
                                       into: dx + img * inPlane)
            }
        }
    }

    /// Plain-loop reference: the same three gradients straight from the definition.
    public static func backwardNaive(input: Tensor, weight: Tensor, gradOutput: Tensor, geometry g: ConvGeometry,
                                     gradWeight: inout Tensor, gradBias: inout Tensor?) -> Tensor {
        let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3])
        let (oh, ow) = g.convOutputSize(height: h, width: w)
        var dx = Tensor(zeros: input.shape)
        for img in 0..<n {
            for o in 0..<g.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let d = gradOutput.data[((img * g.outChannels + o) * oh + oy) * ow + ox]
                        gradBias?.data[o] += d
                        for c in 0..<g.inChannels {
                            for ki in 0..<g.kernelHeight {
                                let iy = oy * g.strideHeight - g.padding.top + ki
                                if iy < 0 || iy >= h { continue }
                                for kj in 0..<g.kernelWidth {
                                    let ix = ox * g.strideWidth - g.padding.left + kj
                                    if ix < 0 || ix >= w { continue }
                                    let wi = ((o * g.inChannels + c) * g.kernelHeight + ki) * g.kernelWidth + kj
                                    let xi = ((img * g.inChannels + c) * h + iy) * w + ix
                                    gradWeight.data[wi] += d * input.data[xi]
                                    dx.data[xi] += d * weight.data[wi]
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}


public enum ConvTranspose2dBackward {
    /// input (N, C, H, W), weight (C, O, kh, kw), gradOutput (N, O, OH, OW).
    /// Adds into gradWeight (C, O, kh, kw) and gradBias (O) unless `needWeightGradient` is
    /// false; returns gradInput (N, C, H, W) when `needInputGradient`.
    public static func backward(input: Tensor, weight: Tensor, gradOutput: Tensor, geometry g: ConvGeometry,
                                gradWeight: inout Tensor, gradBias: inout Tensor?,
                                needInputGradient wantInput: Bool = true, needWeightGradient wantWeight: Bool = true,
                                policy: KernelPolicy = .default) -> Tensor? {
        let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3])
        let (oh, ow) = g.transposedOutputSize(height: h, width: w)
        precondition(gradOutput.shape == [n, g.outChannels, oh, ow], "conv-transpose2d gradOutput \(gradOutput.shape) does not fit")
        precondition(gradWeight.shape == weight.shape)
        // Both gradients on FastGemm where they apply; the loop below does what is left. The
        // weight gradient gathers dY under the adjoint geometry, one position per input pixel.
        let fastInput = wantInput
            ? FastConv.convTransposeInputGradient(gradOutput, weight: weight, geometry: g, height: h, width: w, policy: policy)
            : nil
        let needInputGradient = wantInput && fastInput == nil
        let adjoint = g.adjoint
        let fastWeights = wantWeight && adjoint.convOutputSize(height: oh, width: ow) == (h, w)
            && FastConv.weightGradient(input, gradOutput, geometry: adjoint, into: &gradWeight, policy: policy)
        let needWeightGradient = wantWeight && !fastWeights
        if fastWeights, gradBias != nil { accumulateChannelSums(gradOutput, into: &gradBias!) }
        if !needInputGradient && !needWeightGradient { return fastInput }
        let rows = g.outChannels * g.kernelHeight * g.kernelWidth, positions = h * w
        let workers = min(n, policy.workers)
        var buffers = WorkerBuffers(workers: workers, partial: needWeightGradient ? weight.count : 0,
                                    columns: rows * positions, columnGradient: 0)
        let columnsAt = buffers.partial
        let dx = buffers.runImages(n, workers: workers, input: input, weight: weight, gradOutput: gradOutput,
                                   needInputGradient: needInputGradient) { images, own, x, wt, dy, dx in
            im2colPass(images, g, height: h, width: w, x: x, weight: wt, dy: dy, dx: dx,
                       dW: needWeightGradient ? own : nil, columns: own + columnsAt)
        }
        return finishIm2col(buffers, dx: dx, input: input, gradOutput: gradOutput, fastInput: fastInput,
                            needWeightGradient: needWeightGradient, gradWeight: &gradWeight, gradBias: &gradBias)
    }

    /// Images `images` of the im2col pass: the output gradient's columns under the adjoint
    /// gather, for every input position, what it fed; with `dW`, dW (C, O*kh*kw) += X (C, HW) *
    /// col^T (HW, O*kh*kw); with `dx`, dX (C, HW) = W (C, O*kh*kw) * col (O*kh*kw, HW).
    private static func im2colPass(_ images: Range<Int>, _ g: ConvGeometry, height h: Int, width w: Int,
                                   x: UnsafePointer<Float>, weight wt: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                   dx: UnsafeMutablePointer<Float>?, dW: UnsafeMutablePointer<Float>?,
                                   columns col: UnsafeMutablePointer<Float>) {
        let (oh, ow) = g.transposedOutputSize(height: h, width: w)
        let rows = g.outChannels * g.kernelHeight * g.kernelWidth, positions = h * w
        let inPlane = g.inChannels * positions, outPlane = g.outChannels * oh * ow
        let adjoint = g.adjoint
        for img in images {
            Conv2d.im2col(dy + img * outPlane, height: oh, width: ow, geometry: adjoint, outHeight: h, outWidth: w, into: col)
            if let dW {
                Gemm.sgemm(transposeA: false, transposeB: true, m: g.inChannels, n: rows, k: positions,
                           a: x + img * inPlane, lda: positions, b: col, ldb: positions, beta: 1, c: dW, ldc: rows)
            }
            if let dx {
                Gemm.sgemm(transposeA: false, transposeB: false, m: g.inChannels, n: positions, k: rows,
                           a: wt, lda: rows, b: col, ldb: positions, c: dx + img * inPlane, ldc: positions)
            }
        }
    }
}
