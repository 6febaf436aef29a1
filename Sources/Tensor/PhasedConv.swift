import CGemm
import Foundation

/// A convolution-like layer rewritten as a few small dense correlations ("phases") over its real
/// input, with bias and activation fused into the write-back.
///
/// Three layers become phased convolutions:
/// - conv2d: one phase, the usual im2col + sgemm.
/// - nearest upsample by s, then conv2d: the s*s output phases each see only a few distinct input
///   rows and columns, so a 3x3 kernel after x2 upsampling collapses to four 2x2 kernels on the
///   small input (4/9 of the multiply-adds).
/// - conv-transpose2d with stride s: s*s phases, each a dense correlation with a ceil(k/s) kernel
///   (no scatter, no zeros inserted).
///
/// Along each axis, output o reads input rows `inStart + t*inStep + e` (t the output's index inside
/// its phase, e < taps) with the summed kernel rows `taps[e]`. The plain references are
/// `Conv2d.forwardNaive` (after `Upsample.nearest`) and `ConvTranspose2d.forwardNaive`.
public struct PhasedConv: Sendable {
    /// One axis of one phase.
    public struct Axis: Sendable, Equatable {
        public var outStart: Int, outStep: Int, outCount: Int
        public var inStart: Int, inStep: Int
        /// For each effective tap, the original kernel indices that land on the same input row.
        public var taps: [[Int]]
    }

    public struct Phase: Sendable {
        public var y: Axis, x: Axis
        /// The summed kernel: (O, C * taps.y * taps.x) for the gathering path, or tap by tap,
        /// (taps.y * taps.x, O, C), for the shifted products.
        public var weight: [Float]
        /// Values per output position: C * taps.y * taps.x.
        public var patch: Int
        /// With `fast`: the summed kernel as FastGemm's packed (O, patch) matrix, its columns in
        /// the order the product reads them, and where each product column (an output position
        /// of a whole group of images) lands in the output, relative to the group's first image.
        var packed: [Float] = []
        var columns: [Int32] = []
        /// With `fast`: where each product column reads the padded window (relative to a tap's
        /// row of channel 0), for a whole group of images.
        var positions: [Int32] = []
        /// With `vectors`: the summed kernel packed for the channel-vector kernel, and where each
        /// step of its depth reads the padded window (relative to the output position's place).
        var vectorWeights: AlignedFloats?
        var vectorOffsets: [Int] = []
    }

    /// Every axis reads consecutive input rows/columns (stride-1 conv, upsample + conv,
    /// conv-transpose): the phases run as one sgemm per tap straight on a zero-padded copy of
    /// the input, with no column matrix.
    public let shifted: Bool
    /// The padded input window: rows padTop..<padTop+paddedHeight of the input (negative = zeros).
    let padTop: Int, padLeft: Int, paddedHeight: Int, paddedWidth: Int
    /// Spare-window ratio up to which the shifted products win (plus 32 / O); tests move it to
    /// force one path or the other.
    nonisolated(unsafe) static var shiftedSpareLimit: Double = 1.2
    /// Positions the shifted products compute per real output (the padded windows' spare).
    public let spareRatio: Double
    /// Images per product and per-worker scratch (floats).
    public let imagesPerProduct: Int
    /// Fewest images per product when a batch is split over the workers: enough for four blocks
    /// of FastGemm's columns (or the OpenBLAS product's equivalent) in the phase with fewest.
    public let leastImagesPerProduct: Int
    public let scratchPerWorker: Int
    /// Largest column matrix of one image (the gathering path).
    let columnScratch: Int

    public let inChannels: Int, outChannels: Int
    public let inHeight: Int, inWidth: Int
    public let outHeight: Int, outWidth: Int
    public let phases: [Phase]
    public let bias: [Float]
    public let activation: ActivationKind

    /// The products run on FastGemm (a vector path, weights packed at build, the write-back fused), or
    /// on the channel-vector kernel where `vectors` is above 0.
    public let fast: Bool
    /// Few output channels on a vector path: each phase runs as a direct correlation straight
    /// from the unpadded input (`forger_direct_phase`), sums held in registers (no product whose
    /// panels of eight rows would be mostly empty, no padded copy).
    public let direct: Bool
    /// Most output channels for the direct path; tests move it to force one path or the other.
    /// Up to four: B's last layer (three channels) runs about three times as fast on it as on
    /// FastGemm, whose panels of eight rows are then mostly empty (`Tools/kernel_bench.sh`).
    nonisolated(unsafe) static var directMaximumChannels = 4
    /// Multiply-adds per image from which the direct path splits a single image over workers.
    nonisolated(unsafe) static var directSplitMultiplyAdds = 1 << 20
    /// Fewest output channels for FastGemm where the direct kernel does not take the layer: its
    /// panels are 8 rows, so few channels waste most of the multiply-adds (and still beat
    /// OpenBLAS's small kernels: 3 channels, on benchmark B's last layer).
    static let fastMinimumChannels = 3
    /// With `fast`: vectors of 16 output channels a tile of the channel-vector kernel
    /// (`ChannelVectors`), which then runs the phases in place of FastGemm; 0 where FastGemm does.
    /// It needs output columns that read consecutive input columns and `channelVectorMinimumChannels`.
    public let vectors: Int
    /// Fewest output channels for the channel-vector kernel: below 16, most of its lanes would be
    /// empty (FastGemm's panels are 8 rows). Tests move it to force one kernel or the other.
    nonisolated(unsafe) static var channelVectorMinimumChannels = 16
    /// Where a worker's FastGemm scratch starts inside its region (after the padded window).
    let gemmScratchOffset: Int
    /// Few output channels: the sgemm computes the product transposed so its rows are positions.
    var transposedProduct: Bool { outChannels < 16 }

    /// Multiply-adds per image the phases perform (padding taps included).
    public var multiplyAdds: Int {
        phases.reduce(0) { $0 + $1.y.outCount * $1.x.outCount * $1.patch * outChannels }
    }

    // MARK: - Building

    /// conv2d on an input (C, H, W) that is first upsampled (nearest) by `upsample`.
    /// weight (O, C, kh, kw).
    public init?(conv weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, upsample u: Int = 1,
                 inHeight h: Int, inWidth w: Int, activation: ActivationKind) {
        let (oh, ow) = g.convOutputSize(height: h * u, width: w * u)
        func pairs(_ stride: Int, _ pad: Int, _ k: Int) -> (Int) -> [(Int, Int)] {
            { o in (0..<k).map { ki in
                let v = o * stride - pad + ki
                return (v >= 0 ? v / u : -((-v + u - 1) / u), ki)
            } }
        }
        guard let ys = Self.axes(outSize: oh, pairs(g.strideHeight, g.padding.top, g.kernelHeight)),
              let xs = Self.axes(outSize: ow, pairs(g.strideWidth, g.padding.left, g.kernelWidth)) else { return nil }
        let (kh, kw, c) = (g.kernelHeight, g.kernelWidth, g.inChannels)
        self.init(inChannels: c, outChannels: g.outChannels, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow,
                  ys: ys, xs: xs, bias: bias, activation: activation,
                  weight: weight.data, strides: (c * kh * kw, kh * kw, kw))
    }

    /// conv-transpose2d on an input (C, H, W); weight (C, O, kh, kw) as PyTorch stores it.
    public init?(convTranspose weight: Tensor, bias: Tensor?, geometry g: ConvGeometry,
                 inHeight h: Int, inWidth w: Int, activation: ActivationKind) {
        let (oh, ow) = g.transposedOutputSize(height: h, width: w)
        func pairs(_ s: Int, _ pad: Int, _ k: Int) -> (Int) -> [(Int, Int)] {
            { o in (0..<k).compactMap { ki in
                let v = o + pad - ki
                let r = ((v % s) + s) % s
                return r == 0 ? ((v - r) / s, ki) : nil
            } }
        }
        guard let ys = Self.axes(outSize: oh, pairs(g.strideHeight, g.padding.top, g.kernelHeight)),
              let xs = Self.axes(outSize: ow, pairs(g.strideWidth, g.padding.left, g.kernelWidth)) else { return nil }
        let (kh, kw, o) = (g.kernelHeight, g.kernelWidth, g.outChannels)
        self.init(inChannels: g.inChannels, outChannels: o, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow,
                  ys: ys, xs: xs, bias: bias, activation: activation,
                  weight: weight.data, strides: (kh * kw, o * kh * kw, kw))
    }

    /// `weight` is read at o * strides.o + c * strides.c + ki * strides.ki + kj.
    private init(inChannels c: Int, outChannels o: Int, inHeight h: Int, inWidth w: Int,
                 outHeight oh: Int, outWidth ow: Int, ys: [Axis], xs: [Axis], bias: Tensor?,
                 activation: ActivationKind, weight: [Float], strides: (o: Int, c: Int, ki: Int)) {
        let unit = { (a: Axis) in a.inStep == 1 || a.outCount == 1 || a.taps.isEmpty }
        func window(_ axes: [Axis]) -> (Int, Int) {
            let lo = axes.map(\.inStart).min()!
            let hi = axes.map { $0.inStart + ($0.outCount - 1) * $0.inStep + max(1, $0.taps.count) }.max()!
            return (lo, hi - lo)
        }
        (padTop, paddedHeight) = window(ys)
        (padLeft, paddedWidth) = window(xs)
        // The shifted products also compute the padded window's spare rows and columns; on small
        // images that costs more than gathering columns does, the less so the more output
        // channels share each gathered column (limits measured on benchmarks A, B and C).
        let spare = Double(ys.count * xs.count * paddedHeight * paddedWidth) / Double(oh * ow)
        spareRatio = spare
        let shifted = (ys + xs).allSatisfy(unit) && spare <= Self.shiftedSpareLimit + 32 / Double(o)
        self.shifted = shifted
        // The fast path reads every phase's weights in the gathering layout (O, C * taps).
        // The tables are 32-bit: a group's output and padded window must fit (a large image falls
        // back to OpenBLAS).
        let groupMost = 16 * max(o * oh * ow, c * paddedHeight * paddedWidth)   // 16: the largest group
        let direct = FastGemm.enabled && o <= Self.directMaximumChannels && (ys + xs).allSatisfy(unit)
            && xs.allSatisfy { $0.taps.count <= 16 }
        let fast = !direct && FastGemm.enabled && o >= Self.fastMinimumChannels && groupMost < Int(Int32.max)
        let tapMajor = shifted && !fast && !direct
        let vectors = fast && o >= Self.channelVectorMinimumChannels && xs.allSatisfy { $0.inStep == 1 || $0.outCount == 1 || $0.taps.isEmpty }
            ? ChannelVectors.vectors(channels: o, columns: xs.map(\.outCount)) : 0
        var phases: [Phase] = []
        weight.withUnsafeBufferPointer { src in
            for y in ys {
                for x in xs {
                    let ty = y.taps.count, tx = x.taps.count, taps = ty * tx
                    var wt = [Float](repeating: 0, count: o * c * taps)
                    wt.withUnsafeMutableBufferPointer { dst in
                        for ey in 0..<ty {
                            for ex in 0..<tx {
                                let e = ey * tx + ex
                                for ki in y.taps[ey] {
                                    for kj in x.taps[ex] {
                                        let k = ki * strides.ki + kj
                                        for oc in 0..<o {
                                            let from = src.baseAddress! + oc * strides.o + k
                                            if tapMajor {
                                                let to = dst.baseAddress! + (e * o + oc) * c
                                                for ch in 0..<c { to[ch] += from[ch * strides.c] }
                                            } else {
                                                let to = dst.baseAddress! + oc * c * taps + e
                                                for ch in 0..<c { to[ch * taps] += from[ch * strides.c] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    phases.append(Phase(y: y, x: x, weight: wt, patch: c * taps))
                }
            }
        }
        var smallest = Int.max, col = 0, product = 0
        for p in phases {
            let positions = p.y.outCount * p.x.outCount
            smallest = min(smallest, positions)
            col = max(col, p.patch * positions)
            product = max(product, o * positions)
        }
        columnScratch = col
        self.fast = fast
        self.direct = direct
        self.vectors = vectors
        leastImagesPerProduct = vectors > 0 ? 1 : max(1, min(16, 4 * FastGemm.blockColumns / max(1, smallest)))
        if direct {
            imagesPerProduct = 1
            gemmScratchOffset = 0
            scratchPerWorker = 0
        } else if vectors > 0 {
            // Padded windows of a few images, one after another, read in place: as many as fit in
            // about 512 KB, so that they stay in L2 with a block of weights (up to 256 KB), which
            // every image then reuses (A's first layer has 2 MB of weights, more than L2 holds with
            // the rest; taken image by image, with no depth slices, A ran at 0.94x FastGemm's build).
            let plane = paddedHeight * paddedWidth, rowStride = paddedWidth
            imagesPerProduct = max(1, min(16, (1 << 17) / max(1, c * plane)))
            gemmScratchOffset = imagesPerProduct * c * plane + paddedWidth + 64
            scratchPerWorker = gemmScratchOffset
            for i in phases.indices {
                let ph = phases[i]
                phases[i].vectorOffsets = [Int](unsafeUninitializedCapacity: ph.patch) { offsets, count in
                    if let base = offsets.baseAddress { Self.tapOffsets(ph, channels: c, channelStride: plane, rowStride: rowStride, into: base) }
                    count = ph.patch
                }
                phases[i].vectorWeights = ChannelVectors.pack(channels: o, depth: ph.patch, vectors: vectors, ph.weight)
            }
        } else if fast {
            // Every phase reads the zero-padded window through tables (no column matrix, no
            // spare positions); enough images per product to fill a few blocks of columns.
            let plane = paddedHeight * paddedWidth
            let g = max(1, min(16, 512 / max(1, smallest)))
            imagesPerProduct = g
            gemmScratchOffset = c * plane * g + paddedWidth + 64
            scratchPerWorker = gemmScratchOffset + FastGemm.scratchCount(rows: o)
            let outPlane = oh * ow
            for i in phases.indices {
                let ph = phases[i]
                let (rows, cols) = (ph.y.outCount, ph.x.outCount)
                var map = [Int32](repeating: 0, count: g * rows * cols), at = map
                for gi in 0..<g {
                    for t in 0..<rows {
                        let line = gi * o * outPlane + (ph.y.outStart + t * ph.y.outStep) * ow + ph.x.outStart
                        let source = gi * plane + (ph.y.inStart - padTop + t * ph.y.inStep) * paddedWidth
                            + ph.x.inStart - padLeft
                        for u in 0..<cols {
                            let q = (gi * rows + t) * cols + u
                            map[q] = Int32(line + u * ph.x.outStep)
                            at[q] = Int32(source + u * ph.x.inStep)
                        }
                    }
                }
                phases[i].columns = map
                phases[i].positions = at
                phases[i].packed = ph.weight.withUnsafeBufferPointer { wt in
                    FastGemm.pack(m: o, k: ph.patch, wt.baseAddress!, lda: ph.patch)
                }
            }
        } else if shifted {
            gemmScratchOffset = 0
            let plane = paddedHeight * paddedWidth
            imagesPerProduct = max(1, min(16, 768 / plane))
            scratchPerWorker = (c + o) * plane * imagesPerProduct + paddedWidth + 64
        } else {
            gemmScratchOffset = 0
            imagesPerProduct = max(1, min(16, 384 / max(1, smallest)))
            scratchPerWorker = (col + product) * imagesPerProduct
        }
        self.phases = phases
        self.inChannels = c; self.outChannels = o
        self.inHeight = h; self.inWidth = w; self.outHeight = oh; self.outWidth = ow
        self.bias = bias?.data ?? [Float](repeating: 0, count: o)
        self.activation = activation
    }

    /// Groups the outputs of one axis by the pattern of (input row - first row, kernel index) they
    /// read; each group must be an arithmetic progression in both output and input.
    static func axes(outSize: Int, _ pairs: (Int) -> [(Int, Int)]) -> [Axis]? {
        guard outSize > 0 else { return nil }
        var order: [[Int]] = [], groups: [[Int]: [(out: Int, base: Int)]] = [:]
        for o in 0..<outSize {
            let p = pairs(o)
            let base = p.map(\.0).min() ?? 0
            let key = p.flatMap { [$0.0 - base, $0.1] }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append((o, base))
        }
        var result: [Axis] = []
        for key in order {
            let members = groups[key]!
            let outStep = members.count > 1 ? members[1].out - members[0].out : 1
            let inStep = members.count > 1 ? members[1].base - members[0].base : 0
            for (i, m) in members.enumerated() {
                guard m.out == members[0].out + i * outStep, m.base == members[0].base + i * inStep else { return nil }
            }
            var taps: [[Int]] = []
            for j in stride(from: 0, to: key.count, by: 2) {
                let rel = key[j]
                while taps.count <= rel { taps.append([]) }
                taps[rel].append(key[j + 1])
            }
            result.append(Axis(outStart: members[0].out, outStep: outStep, outCount: members.count,
                               inStart: members[0].base, inStep: inStep, taps: taps))
        }
        return result
    }

    // MARK: - Running

    /// x (N, C, H, W) -> y (N, O, OH, OW). Splits images over workers, or, for fewer images than
    /// workers, phases and row bands of one image. `scratch` holds `workers` regions of
    /// `scratchPerWorker` floats.
    public func forward(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, workers: Int = Parallel.workerCount) {
        if direct {
            // Whole phases of an image each, claimed in turn. Fewer images than workers: inline
            // when small (A's and C's last layers take a few microseconds, and handing half to
            // another core cost 5-11% of images/s at batch 1), else bands of rows.
            let split = n < workers && multiplyAdds >= Self.directSplitMultiplyAdds
            let tasks = directTasks(split: split, workers: workers)
            Parallel.forClaims(n * tasks, maxWorkers: n < workers && !split ? 1 : workers) { task, _ in
                runDirectTask(task % tasks, of: tasks, image: task / tasks, x, y)
            }
            return
        }
        let region = scratchPerWorker
        if n >= workers || workers == 1 {
            let group = Parallel.groupSize(n, least: leastImagesPerProduct, most: imagesPerProduct, workers: workers)
            Parallel.forGroups(n, group: group, maxWorkers: workers) { images, worker in
                let s = scratch + worker * region
                if vectors > 0 {
                    // Image-major windows (each image's channels together), so that the kernel's
                    // offsets are the same for any number of images.
                    let window = inChannels * paddedHeight * paddedWidth
                    for (gi, img) in images.enumerated() { pad(x, images: img..<(img + 1), into: s + gi * window) }
                    for p in phases.indices { runVectors(p, images: images, tiles: 0..<vectorTiles(p), s, y) }
                } else if fast {
                    pad(x, images: images, into: s)
                    for p in phases.indices { runFast(p, images: images, channels: 0..<outChannels, s, y, gemmScratch: s + gemmScratchOffset) }
                } else if shifted {
                    pad(x, images: images, into: s)
                    for p in phases.indices { runShifted(p, images: images, rows: 0..<phases[p].y.outCount, s, y) }
                } else {
                    for p in phases.indices { run(p, images: images, rows: 0..<phases[p].y.outCount, x, y, s) }
                }
            }
            return
        }
        if fast {
            // Few images: each image's stages (padding, then the phases' bands) in one hand-off.
            let items = stageItems(workers: workers)!
            withUnsafeTemporaryAllocation(of: Int.self, capacity: n * items.count) { counts in
                for i in counts.indices { counts[i] = items[i % items.count] }
                Parallel.forStages(UnsafeBufferPointer(counts), maxWorkers: workers) { stage, item, worker in
                    runStage(stage % items.count, item: item, worker: worker, image: stage / items.count,
                             x, into: y, scratch: scratch, workers: workers)
                }
            }
            return
        }
        // Few images: split (image, phase, row band) tasks over the workers.
        var tasks: [(Int, Int, Range<Int>)] = []
        let bands = phases.count >= workers ? 1 : workers
        for img in 0..<n {
            for p in phases.indices {
                let rows = phases[p].y.outCount
                let b = min(bands, rows)
                for k in 0..<b { tasks.append((img, p, (rows * k / b)..<(rows * (k + 1) / b))) }
            }
        }
        Parallel.forChunks(tasks.count, maxWorkers: workers) { range, worker in
            let s = scratch + worker * region
            for t in range {
                let (img, p, rows) = tasks[t]
                if shifted {
                    pad(x, images: img..<(img + 1), into: s)
                    runShifted(p, images: img..<(img + 1), rows: rows, s, y)
                } else {
                    run(p, images: img..<(img + 1), rows: rows, x, y, s)
                }
            }
        }
    }

    // MARK: - One image in stages

    /// One image's pass as stages for `Parallel.forStages` (their item counts, in order), which
    /// any worker may run in any order within a stage: the direct kernel's tasks; or FastGemm's
    /// padding (a band of channels a worker), then its phases' bands. Nil on OpenBLAS's paths.
    public func stageItems(workers: Int) -> [Int]? {
        if direct { return [directTasks(split: true, workers: workers)] }
        return fast ? [workers, phases.count * workers] : nil
    }

    /// Item `item` of stage `stage` (of `stageItems(workers:)`) for image `image`. The padded
    /// window lies at the start of `scratch`, then each worker's region as `forward` lays it out.
    public func runStage(_ stage: Int, item: Int, worker: Int, image: Int, _ x: UnsafePointer<Float>,
                         into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, workers: Int) {
        if direct {
            runDirectTask(item, of: directTasks(split: true, workers: workers), image: image, x, y)
        } else if stage == 0 {
            let c = inChannels
            pad(x, images: image..<(image + 1), channels: (c * item / workers)..<(c * (item + 1) / workers), into: scratch)
        } else {
            // Each phase split over the workers: by bands of positions (whole blocks of columns)
            // where there are enough, else by bands of output channels (whole panels of the packed
            // weights); one band a worker and phase (two or four bands a worker cost more than
            // they balance: 7-28% fewer images/s on A, B and C at batch 1).
            func band(_ b: Int, of count: Int, unit: Int) -> Range<Int> {
                func cut(_ k: Int) -> Int { min(count, (count * k / workers + unit - 1) / unit * unit) }
                return cut(b)..<cut(b + 1)
            }
            let (p, b) = (item / workers, item % workers)
            if vectors > 0 {
                // Rows of each block of channels, block by block, in even bands.
                let tiles = vectorTiles(p)
                runVectors(p, images: image..<(image + 1), tiles: (tiles * b / workers)..<(tiles * (b + 1) / workers), scratch, y)
                return
            }
            let positions = phases[p].y.outCount * phases[p].x.outCount
            let s = scratch + worker * scratchPerWorker + gemmScratchOffset
            if positions >= 2 * FastGemm.blockColumns * workers {
                runFast(p, images: image..<(image + 1), channels: 0..<outChannels,
                        columns: band(b, of: positions, unit: FastGemm.blockColumns), scratch, y, gemmScratch: s)
            } else {
                let channels = band(b, of: outChannels, unit: FastGemm.panelRows)
                if !channels.isEmpty { runFast(p, images: image..<(image + 1), channels: channels, scratch, y, gemmScratch: s) }
            }
        }
    }

    /// The direct kernel's tasks per image: its phases, whole, or `split` into bands of rows so
    /// that each worker has one.
    private func directTasks(split: Bool, workers: Int) -> Int {
        phases.count * (split ? (workers + phases.count - 1) / phases.count : 1)
    }

    /// Task `task` of an image's `tasks` on the direct kernel: a band of one phase's rows.
    private func runDirectTask(_ task: Int, of tasks: Int, image: Int, _ x: UnsafePointer<Float>,
                               _ y: UnsafeMutablePointer<Float>) {
        let bands = tasks / phases.count
        let (p, b) = (task / bands, task % bands)
        let rows = phases[p].y.outCount
        runDirect(p, image: image, rows: (rows * b / bands)..<(rows * (b + 1) / bands), x, y)
    }

    /// The range of u in 0..<count with 0 <= start + u * step < size (step >= 0).
    static func inside(start: Int, step: Int, count: Int, size: Int) -> (Int, Int) {
        if step == 0 { return start >= 0 && start < size ? (0, count) : (0, 0) }
        let lo = start >= 0 ? 0 : (-start + step - 1) / step
        let hi = start >= size ? 0 : (size - start + step - 1) / step
        let l = min(count, lo), h = min(count, hi)
        return l < h ? (l, h) : (0, 0)
    }

    /// One phase, images `images`, phase rows `rows`: gather columns, one sgemm, fused write-back.
    private func run(_ p: Int, images: Range<Int>, rows: Range<Int>, _ x: UnsafePointer<Float>,
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
                            let (lo, hi) = Self.inside(start: ix0, step: step, count: cols, size: w)
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

    /// One phase on padded images through FastGemm, output channels `channels` (a band starting
    /// on a panel of the packed weights): column q of the product is output position q of the
    /// group; row c * taps + e of B is channel c's window shifted by tap e, read at the phase's
    /// `positions`; bias, activation and the place in y are applied by the store.
    private func runFast(_ p: Int, images: Range<Int>, channels: Range<Int>, columns: Range<Int>? = nil,
                         _ xp: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                         gemmScratch: UnsafeMutablePointer<Float>) {
        let ph = phases[p]
        let g = images.count, plane = paddedHeight * paddedWidth
        let q = columns ?? 0..<(g * ph.y.outCount * ph.x.outCount)
        if q.isEmpty { return }
        let c0 = channels.lowerBound, outPlane = outHeight * outWidth
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(1, ph.patch)) { offsets in
            Self.tapOffsets(ph, channels: inChannels, channelStride: g * plane, rowStride: paddedWidth, into: offsets.baseAddress!)
            bias.withUnsafeBufferPointer { b in
                ph.packed.withUnsafeBufferPointer { a in
                    ph.positions.withUnsafeBufferPointer { at in
                        ph.columns.withUnsafeBufferPointer { map in
                            FastGemm.multiply(m: channels.count, n: q.count, k: ph.patch,
                                              packedA: (a.baseAddress ?? b.baseAddress!) + (a.isEmpty ? 0 : c0 * ph.patch),
                                              b: .implicit(xp, offsets: offsets.baseAddress!, positions: at.baseAddress! + q.lowerBound),
                                              into: .init(base: y + (images.lowerBound * outChannels + c0) * outPlane,
                                                          rowStride: outPlane, columns: map.baseAddress! + q.lowerBound,
                                                          bias: b.baseAddress! + c0, activation: activation),
                                              scratch: gemmScratch)
                        }
                    }
                }
            }
        }
    }

    /// Where each step of a phase's depth (channel c, tap ey, ex: c * taps + ey * taps.x + ex, the
    /// order of its summed kernel) reads a padded window, relative to the output position's place:
    /// FastGemm's rows of B and the channel-vector kernel's broadcasts.
    static func tapOffsets(_ ph: Phase, channels: Int, channelStride: Int, rowStride: Int,
                           into offsets: UnsafeMutablePointer<Int>) {
        let ty = ph.y.taps.count, tx = ph.x.taps.count
        for ch in 0..<channels {
            for ey in 0..<ty {
                for ex in 0..<tx { offsets[(ch * ty + ey) * tx + ex] = ch * channelStride + ey * rowStride + ex }
            }
        }
    }

    /// Rows times blocks of channels of phase `p` on the channel-vector kernel.
    private func vectorTiles(_ p: Int) -> Int {
        phases[p].y.outCount * ((outChannels + 16 * vectors - 1) / (16 * vectors))
    }

    /// Tiles `tiles` of phase `p` (of `vectorTiles(p)`: row t of block b is b * rows + t) of
    /// `images` on the channel-vector kernel, from their padded windows, one after another at `xp`.
    private func runVectors(_ p: Int, images: Range<Int>, tiles: Range<Int>, _ xp: UnsafePointer<Float>,
                            _ y: UnsafeMutablePointer<Float>) {
        let ph = phases[p], rows = ph.y.outCount, outPlane = outHeight * outWidth
        let (code, slope) = activation.kernelCode
        ph.vectorOffsets.withUnsafeBufferPointer { offsets in
            bias.withUnsafeBufferPointer { b in
                var d = forger_chanvec_conv(
                    out_channels: Int32(outChannels), depth: Int32(ph.patch), vectors: Int32(vectors),
                    weight: ph.vectorWeights!.base, offsets: offsets.baseAddress, images: Int32(images.count),
                    x: xp + (ph.y.inStart - padTop) * paddedWidth + (ph.x.inStart - padLeft),
                    x_image: inChannels * paddedHeight * paddedWidth, x_row: ph.y.inStep * paddedWidth,
                    columns: Int32(ph.x.outCount),
                    y: y + images.lowerBound * outChannels * outPlane + ph.y.outStart * outWidth + ph.x.outStart,
                    y_image: outChannels * outPlane, y_plane: outPlane, y_row: ph.y.outStep * outWidth, y_column: ph.x.outStep,
                    bias: b.baseAddress, activation: code, slope: slope)
                var i = tiles.lowerBound
                while i < tiles.upperBound {
                    let (block, row) = i.quotientAndRemainder(dividingBy: rows)
                    let end = min(rows, row + tiles.upperBound - i)
                    let done = forger_chanvec_phase(&d, Int32(row), Int32(end), Int32(block), Int32(block + 1))
                    precondition(done == 1, "the channel-vector kernel refused a phase it was built for")
                    i += end - row
                }
            }
        }
    }

    /// One phase of one image, rows `rows`, as a direct correlation on the unpadded input.
    private func runDirect(_ p: Int, image: Int, rows: Range<Int>, _ x: UnsafePointer<Float>,
                           _ y: UnsafeMutablePointer<Float>) {
        if rows.isEmpty { return }
        let ph = phases[p], outPlane = outHeight * outWidth
        let (code, slope) = activation.kernelCode
        ph.weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                var d = forger_direct_conv(
                    out_channels: Int32(outChannels), in_channels: Int32(inChannels),
                    height: Int32(inHeight), width: Int32(inWidth),
                    x: x + image * inChannels * inHeight * inWidth, weight: w.baseAddress ?? b.baseAddress,
                    taps_y: Int32(ph.y.taps.count), taps_x: Int32(ph.x.taps.count),
                    in_row: Int32(ph.y.inStart), in_column: Int32(ph.x.inStart), columns: Int32(ph.x.outCount),
                    y: y + image * outChannels * outPlane + ph.y.outStart * outWidth + ph.x.outStart,
                    y_plane: outPlane, y_row: ph.y.outStep * outWidth, y_column: ph.x.outStep,
                    bias: b.baseAddress, activation: code, slope: slope)
                let done = forger_direct_phase(&d, Int32(rows.lowerBound), Int32(rows.upperBound))
                precondition(done == 1, "the direct kernel refused a phase it was built for")
            }
        }
    }

    /// Copies channels `channels` of images into the zero-padded window, laid out (C, images,
    /// paddedHeight, paddedWidth), zeroing only what the copy leaves; the (one non-empty) band from
    /// channel 0 also zeroes the spare floats after the window that the shifted products read past
    /// its end.
    private func pad(_ x: UnsafePointer<Float>, images: Range<Int>, channels: Range<Int>? = nil,
                     into xp: UnsafeMutablePointer<Float>) {
        let channels = channels ?? 0..<inChannels
        Self.copyWindow(x, images: images, channels: channels, of: (inChannels, inHeight, inWidth),
                        top: padTop, left: padLeft, height: paddedHeight, width: paddedWidth, into: xp, zeroing: true)
        if channels.lowerBound == 0 && !channels.isEmpty {
            (xp + inChannels * images.count * paddedHeight * paddedWidth).update(repeating: 0, count: paddedWidth + 64)
        }
    }

    /// Copies channels `channels` of images `images` of x (N, C, H, W) into a window laid out
    /// (C, images, height, width) whose row r, column u is input row top + r, column left + u.
    /// What falls outside the input is zeroed with `zeroing`, else left as it is (a window the
    /// caller zeroed first).
    static func copyWindow(_ x: UnsafePointer<Float>, images: Range<Int>, channels: Range<Int>,
                           of shape: (c: Int, h: Int, w: Int), top: Int, left: Int, height hp: Int, width wp: Int,
                           into xp: UnsafeMutablePointer<Float>, zeroing: Bool = false) {
        let (h, w) = (shape.h, shape.w)
        let plane = hp * wp, g = images.count
        var (rowLo, rowHi) = (max(0, top), min(h, top + hp))
        var (colLo, colHi) = (max(0, left), min(w, left + wp))
        if rowLo >= rowHi || colLo >= colHi { (rowLo, rowHi, colLo, colHi) = (top, top, left, left) }
        // The window's rows r0..<r1 and columns u0..<u1 come from the input.
        let (r0, r1, u0, u1) = (rowLo - top, rowHi - top, colLo - left, colHi - left)
        for (gi, img) in images.enumerated() {
            for c in channels {
                let src = x + (img * shape.c + c) * h * w
                let dst = xp + (c * g + gi) * plane
                if zeroing { dst.update(repeating: 0, count: r0 * wp) }
                for r in r0..<r1 {
                    let line = dst + r * wp
                    if zeroing { line.update(repeating: 0, count: u0) }
                    (line + u0).update(from: src + (r + top) * w + colLo, count: u1 - u0)
                    if zeroing { (line + u1).update(repeating: 0, count: wp - u1) }
                }
                if zeroing { (dst + r1 * wp).update(repeating: 0, count: (hp - r1) * wp) }
            }
        }
    }

    /// One phase on padded images: for each tap, product += W_tap (O, C) * shifted window
    /// (C, positions), the positions running over whole padded rows; then the fused write-back
    /// of the columns that are real outputs.
    private func runShifted(_ p: Int, images: Range<Int>, rows: Range<Int>, _ xp: UnsafeMutablePointer<Float>,
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
