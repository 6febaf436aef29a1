import CGemm
import Foundation

/// A convolution-like layer (conv2d, nearest upsample + conv2d, conv-transpose2d) rewritten as a
/// few small dense correlations ("phases") over its real input, with bias and activation fused
/// into the write-back.
///
/// The parts: `PhaseGeometry` splits the layer into phases; `ConvEngine.choose(for:policy:)`
/// picks the kernel once, here at build, from a `KernelPolicy`; this file sums the kernel of each
/// phase in the layout that engine reads and hands the work to it; each engine lives in its own
/// file (`PhasedConv+<Engine>.swift`), with the padded window they share in
/// `PhasedConv+Window.swift`. The plain references are `Conv2d.forwardNaive` (after
/// `Upsample.nearest`) and `ConvTranspose2d.forwardNaive`.
public struct PhasedConv: Sendable {
    public typealias Axis = PhaseGeometry.Axis

    public struct Phase: Sendable {
        public var y: Axis, x: Axis
        /// The summed kernel: (O, C * taps.y * taps.x) for the gathering engines, or tap by tap,
        /// (taps.y * taps.x, O, C), for the shifted products.
        public var weight: [Float]
        /// Values per output position: C * taps.y * taps.x.
        public var patch: Int
        /// On FastGemm: the summed kernel as FastGemm's packed (O, patch) matrix, and where each
        /// product column (an output position of a whole group of images) lands in the output,
        /// relative to the group's first image.
        var packed: [Float] = []
        var columns: [Int32] = []
        /// On FastGemm: where each product column reads the padded window (relative to a tap's
        /// row of channel 0), for a whole group of images.
        var positions: [Int32] = []
        /// On the channel-vector kernel: the summed kernel packed for it, and where each step of
        /// its depth reads the padded window (relative to the output position's place).
        var vectorWeights: AlignedFloats?
        var vectorOffsets: [Int] = []
    }

    /// Where each engine's scratch goes.
    struct Layout {
        /// Images per product and per-worker scratch (floats).
        var imagesPerProduct: Int
        var scratchPerWorker: Int
        /// Where a worker's FastGemm scratch starts inside its region (after the padded window).
        var gemmScratchOffset = 0
    }

    public let geometry: PhaseGeometry
    /// The kernel the phases run on, chosen at build.
    public let engine: ConvEngine
    public let phases: [Phase]
    public let bias: [Float]
    public let activation: ActivationKind

    /// Images per product and per-worker scratch (floats).
    public let imagesPerProduct: Int
    /// Fewest images per product when a batch is split over the workers: enough for four blocks
    /// of FastGemm's columns (or the OpenBLAS product's equivalent) in the phase with fewest.
    public let leastImagesPerProduct: Int
    public let scratchPerWorker: Int
    /// Largest column matrix of one image (the gathering path).
    let columnScratch: Int
    /// Where a worker's FastGemm scratch starts inside its region (after the padded window).
    let gemmScratchOffset: Int
    /// On the direct kernel: a single image is split over workers (the policy's
    /// `directSplitMultiplyAdds`), else it runs inline.
    let directSplits: Bool

    public var inChannels: Int { geometry.inChannels }
    public var outChannels: Int { geometry.outChannels }
    public var inHeight: Int { geometry.inHeight }
    public var inWidth: Int { geometry.inWidth }
    public var outHeight: Int { geometry.outHeight }
    public var outWidth: Int { geometry.outWidth }
    var padTop: Int { geometry.padTop }
    var padLeft: Int { geometry.padLeft }
    var paddedHeight: Int { geometry.paddedHeight }
    var paddedWidth: Int { geometry.paddedWidth }
    /// Positions the shifted products compute per real output (the padded windows' spare).
    public var spareRatio: Double { geometry.spareRatio }
    /// Vectors a tile of the channel-vector kernel; 0 on every other engine.
    var vectors: Int { engine.vectors }
    /// Few output channels: the sgemm computes the product transposed so its rows are positions.
    var transposedProduct: Bool { outChannels < 16 }

    /// Multiply-adds per image the phases perform (padding taps included).
    public var multiplyAdds: Int { Self.multiplyAdds(phases, outChannels: outChannels) }

    static func multiplyAdds(_ phases: [Phase], outChannels: Int) -> Int {
        phases.reduce(0) { $0 + $1.y.outCount * $1.x.outCount * $1.patch * outChannels }
    }

    // MARK: - Building

    /// conv2d on an input (C, H, W) that is first upsampled (nearest) by `upsample`.
    /// weight (O, C, kh, kw).
    public init?(conv weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, upsample u: Int = 1,
                 inHeight h: Int, inWidth w: Int, activation: ActivationKind, policy: KernelPolicy = .default) {
        guard let geometry = PhaseGeometry(conv: g, upsample: u, inHeight: h, inWidth: w) else { return nil }
        self.init(geometry, weight: weight.data, bias: bias, activation: activation, policy: policy)
    }

    /// conv-transpose2d on an input (C, H, W); weight (C, O, kh, kw) as PyTorch stores it.
    public init?(convTranspose weight: Tensor, bias: Tensor?, geometry g: ConvGeometry,
                 inHeight h: Int, inWidth w: Int, activation: ActivationKind, policy: KernelPolicy = .default) {
        guard let geometry = PhaseGeometry(convTranspose: g, inHeight: h, inWidth: w) else { return nil }
        self.init(geometry, weight: weight.data, bias: bias, activation: activation, policy: policy)
    }

    private init(_ geometry: PhaseGeometry, weight: [Float], bias: Tensor?, activation: ActivationKind,
                 policy: KernelPolicy) {
        let engine = ConvEngine.choose(for: geometry, policy: policy)
        var phases = Self.sumKernels(geometry, weight: weight, tapMajor: engine == .shifted)
        var smallest = Int.max, col = 0, product = 0
        for p in phases {
            let positions = p.y.outCount * p.x.outCount
            smallest = min(smallest, positions)
            col = max(col, p.patch * positions)
            product = max(product, geometry.outChannels * positions)
        }
        let layout: Layout
        switch engine {
        case .direct: layout = Layout(imagesPerProduct: 1, scratchPerWorker: 0)
        case .channelVectors(let vectors): layout = Self.prepareChannelVectors(&phases, geometry, vectors: vectors)
        case .fastGemm: layout = Self.prepareFastGemm(&phases, geometry, smallest: smallest)
        case .shifted: layout = Self.shiftedLayout(geometry)
        case .im2col: layout = Self.im2colLayout(smallest: smallest, columns: col, product: product)
        }
        self.geometry = geometry
        self.engine = engine
        self.phases = phases
        self.bias = bias?.data ?? [Float](repeating: 0, count: geometry.outChannels)
        self.activation = activation
        columnScratch = col
        imagesPerProduct = layout.imagesPerProduct
        scratchPerWorker = layout.scratchPerWorker
        gemmScratchOffset = layout.gemmScratchOffset
        leastImagesPerProduct = engine.vectors > 0 ? 1 : max(1, min(16, 4 * FastGemm.blockColumns / max(1, smallest)))
        directSplits = Self.multiplyAdds(phases, outChannels: geometry.outChannels) >= policy.directSplitMultiplyAdds
    }

    /// Each phase's kernel, summed over the original kernel indices that land on the same input
    /// row and column: (O, C * taps) for the gathering engines, tap by tap (taps, O, C) with
    /// `tapMajor` (the shifted products).
    private static func sumKernels(_ g: PhaseGeometry, weight: [Float], tapMajor: Bool) -> [Phase] {
        let (o, c, strides) = (g.outChannels, g.inChannels, g.weightStrides)
        var phases: [Phase] = []
        weight.withUnsafeBufferPointer { src in
            for y in g.ys {
                for x in g.xs {
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
        return phases
    }

    // MARK: - Running

    /// x (N, C, H, W) -> y (N, O, OH, OW). Splits images over workers, or, for fewer images than
    /// workers, phases and row bands of one image. `scratch` holds `workers` regions of
    /// `scratchPerWorker` floats.
    public func forward(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, workers: Int = Parallel.workerCount) {
        if engine == .direct {
            forwardDirect(x, count: n, into: y, workers: workers)
            return
        }
        if n >= workers || workers == 1 {
            let group = Parallel.groupSize(n, least: leastImagesPerProduct, most: imagesPerProduct, workers: workers)
            Parallel.forGroups(n, group: group, maxWorkers: workers) { images, worker in
                runGroup(images, x, y, scratch: scratch + worker * scratchPerWorker)
            }
            return
        }
        if engine.readsPaddedGroups {
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
        // Few images on OpenBLAS: split (image, phase, row band) tasks over the workers.
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
            let s = scratch + worker * scratchPerWorker
            for t in range {
                let (img, p, rows) = tasks[t]
                if engine == .shifted {
                    pad(x, images: img..<(img + 1), into: s)
                    runShifted(p, images: img..<(img + 1), rows: rows, s, y)
                } else {
                    runIm2col(p, images: img..<(img + 1), rows: rows, x, y, s)
                }
            }
        }
    }

    /// Every phase of a group of images, on one worker's scratch region `s`.
    private func runGroup(_ images: Range<Int>, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                          scratch s: UnsafeMutablePointer<Float>) {
        switch engine {
        case .channelVectors:
            // Image-major windows (each image's channels together), so that the kernel's
            // offsets are the same for any number of images.
            let window = inChannels * paddedHeight * paddedWidth
            for (gi, img) in images.enumerated() { pad(x, images: img..<(img + 1), into: s + gi * window) }
            for p in phases.indices { runVectors(p, images: images, tiles: 0..<vectorTiles(p), s, y) }
        case .fastGemm:
            pad(x, images: images, into: s)
            for p in phases.indices { runFast(p, images: images, channels: 0..<outChannels, s, y, gemmScratch: s + gemmScratchOffset) }
        case .shifted:
            pad(x, images: images, into: s)
            for p in phases.indices { runShifted(p, images: images, rows: 0..<phases[p].y.outCount, s, y) }
        case .im2col, .direct:
            for p in phases.indices { runIm2col(p, images: images, rows: 0..<phases[p].y.outCount, x, y, s) }
        }
    }

    // MARK: - One image in stages

    /// One image's pass as stages for `Parallel.forStages` (their item counts, in order), which
    /// any worker may run in any order within a stage: the direct kernel's tasks; or the padding
    /// (a band of channels a worker), then the phases' bands on FastGemm or the channel-vector
    /// kernel. Nil on OpenBLAS's engines.
    public func stageItems(workers: Int) -> [Int]? {
        if engine == .direct { return [directTasks(split: true, workers: workers)] }
        return engine.readsPaddedGroups ? [workers, phases.count * workers] : nil
    }

    /// Item `item` of stage `stage` (of `stageItems(workers:)`) for image `image`. The padded
    /// window lies at the start of `scratch`, then each worker's region as `forward` lays it out.
    public func runStage(_ stage: Int, item: Int, worker: Int, image: Int, _ x: UnsafePointer<Float>,
                         into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, workers: Int) {
        if engine == .direct {
            runDirectTask(item, of: directTasks(split: true, workers: workers), image: image, x, y)
        } else if stage == 0 {
            let c = inChannels
            pad(x, images: image..<(image + 1), channels: (c * item / workers)..<(c * (item + 1) / workers), into: scratch)
        } else if vectors > 0 {
            runVectorStage(item, image: image, into: y, scratch: scratch, workers: workers)
        } else {
            runFastStage(item, worker: worker, image: image, into: y, scratch: scratch, workers: workers)
        }
    }
}
