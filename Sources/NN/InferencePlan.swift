import Foundation
import Tensor

/// A generator compiled for inference: layers fused into a few steps that run on two reused
/// ping-pong buffers, so a warm forward pass allocates nothing but its result.
///
/// - linear (and a conv-transpose2d on a 1x1 input, which is one) -> one sgemm, bias and the
///   following activation fused into the write-back;
/// - conv2d, nearest upsample + conv2d, conv-transpose2d -> a `PhasedConv` (bias and the following
///   activation fused); a conv-transpose2d on an input too small for phases -> a
///   `ScatterConvTranspose` (one product over several images, then a scatter);
/// - reshape and flatten cost nothing; anything else runs through `Layer.forward`.
///
/// `Generator.forward(_:naive: true)` runs the plain reference kernels layer by layer; the parity
/// tests hold this plan to them and to PyTorch.
final class InferencePlan: @unchecked Sendable {
    enum Step {
        /// y (N, outF) = act(x (N, inF) * W + bias[j / biasRepeat]); W is (inF, outF).
        case dense(weight: [Float], inF: Int, outF: Int, bias: [Float], biasRepeat: Int,
                   activation: ActivationKind)
        case phased(PhasedConv)
        case scatter(ScatterConvTranspose)
        /// Phases for fewer than `scatterBatch` images, the scatter for more.
        case convTranspose(small: PhasedConv, large: ScatterConvTranspose)
        case activation(ActivationKind)
        case batchNorm(scale: [Float], shift: [Float], inner: Int)
        /// Fallback: the layer's own forward on a (N, input...) tensor.
        case layer(Layer, input: [Int])
    }

    /// Batches from this size take `.convTranspose`'s scatter path.
    static let scatterBatch = 8

    let steps: [(step: Step, outCount: Int)]
    let inputCount: Int
    let outputShape: [Int]
    /// Values per image of the largest activation.
    let widest: Int
    let workers: Int
    /// The policy asked for FastGemm and a vector path was active when the plan was built: its
    /// dense steps use it (each phased step's engine is chosen when it is built).
    let fast: Bool
    let phasedScratch: Int
    /// A single image's pass as the stages of one `Parallel.forStages` (one hand-off to the
    /// workers for the whole pass, where every step has stages: dense, FastGemm's and the direct
    /// kernel's phases, activation, batch norm): each stage's step, the step's own stage and its
    /// item count. Empty where a step has none, or for one worker.
    let stages: [(step: Int, stage: Int, items: Int)]
    /// Whether each step reads the ping buffer (and writes pong), or the other way round, and
    /// whether the last step's output ends in ping.
    let readsPing: [Bool]
    let endsInPing: Bool

    init(_ g: Generator, policy: KernelPolicy = .default) {
        let (steps, widest) = Self.compile(g, policy: policy)
        let workers = max(1, policy.workers)
        self.steps = steps
        self.inputCount = g.inputShape.reduce(1, *)
        self.outputShape = g.outputShape
        self.widest = widest
        self.workers = workers
        self.fast = policy.usesFastGemm
        self.phasedScratch = Self.scratchPerWorker(steps)
        (stages, readsPing, endsInPing) = Self.stages(steps, workers: workers)
    }

    /// The generator's layers as steps, each with its output's values per image, and the values
    /// per image of the largest activation.
    private static func compile(_ g: Generator, policy: KernelPolicy) -> ([(step: Step, outCount: Int)], Int) {
        var steps: [(step: Step, outCount: Int)] = []
        var shape = g.inputShape
        var widest = shape.reduce(1, *)
        var i = 0
        func shapes(through end: Int) -> [Int] { end == 0 ? g.inputShape : g.shapes[end - 1] }
        while i < g.layers.count {
            let layer = g.layers[i]
            if case .reshape = layer { i += 1; shape = shapes(through: i); continue }
            if case .flatten = layer { i += 1; shape = shapes(through: i); continue }
            let (step, next) = Self.step(at: i, of: g.layers, input: shape, policy: policy)
            let s = step ?? .layer(layer, input: shape)
            shape = shapes(through: next)
            let count = shape.reduce(1, *)
            widest = max(widest, count)
            steps.append((s, count))
            i = next
        }
        return (steps, widest)
    }

    /// The activation right after layer `j` (through reshapes), and the index past it.
    private static func fusedActivation(after j: Int, of layers: [Layer]) -> (ActivationKind, Int) {
        var k = j + 1
        while k < layers.count {
            switch layers[k] {
            case .reshape, .flatten: k += 1; continue
            case .activation(let a): return (a, k + 1)
            default: return (.identity, j + 1)
            }
        }
        return (.identity, j + 1)
    }

    /// The step that layer `i` (with an input of `shape`, per image) starts, and the index of the
    /// first layer it does not take; nil where the layer runs through its own forward.
    private static func step(at i: Int, of layers: [Layer], input shape: [Int], policy: KernelPolicy) -> (Step?, Int) {
        let layer = layers[i]
        switch layer {
        case .linear(let w, let b):
            let (a, n) = fusedActivation(after: i, of: layers)
            // (out, in) stored as (in, out), as the single-image product reads it.
            let (outF, inF) = (w.shape[0], w.shape[1])
            var t = [Float](repeating: 0, count: w.count)
            w.data.withUnsafeBufferPointer { src in
                for o in 0..<outF { for k in 0..<inF { t[k * outF + o] = src[o * inF + k] } }
            }
            return (.dense(weight: t, inF: inF, outF: outF,
                           bias: b?.data ?? [Float](repeating: 0, count: w.shape[0]), biasRepeat: 1, activation: a), n)
        case .convTranspose2d(let w, let b, let geo)
            where shape[1] == 1 && shape[2] == 1 && geo.padding == Padding2D(0)
                && geo.outputPaddingHeight == 0 && geo.outputPaddingWidth == 0:
            let (a, n) = fusedActivation(after: i, of: layers)
            let k = geo.kernelHeight * geo.kernelWidth
            return (.dense(weight: w.data, inF: geo.inChannels, outF: geo.outChannels * k,
                           bias: b?.data ?? [Float](repeating: 0, count: geo.outChannels), biasRepeat: k, activation: a), n)
        case .convTranspose2d(let w, let b, let geo):
            let (a, n) = fusedActivation(after: i, of: layers)
            // Phases on a padded window where they are wide enough; else one product over
            // several images and a scatter. Between the two (spare rows above 1.2 per output),
            // single images run the phases and batches the scatter (measured on C and B).
            let scatter = ScatterConvTranspose(weight: w, bias: b, geometry: geo, inHeight: shape[1],
                                               inWidth: shape[2], activation: a)
            if let p = PhasedConv(convTranspose: w, bias: b, geometry: geo, inHeight: shape[1], inWidth: shape[2],
                                  activation: a, policy: policy), p.engine != .im2col, worthIt(p, layer, shape) {
                // FastGemm's and the direct kernel's phases compute no spare positions, and
                // run for every batch size, so that an image's values never depend on the
                // batch around it (on OpenBLAS they do: its sums depend on the product's shape).
                return (p.engine != .shifted || p.spareRatio <= 1.2 ? .phased(p) : .convTranspose(small: p, large: scatter), n)
            }
            return (.scatter(scatter), n)
        case .conv2d(let w, let b, let geo):
            let (a, n) = fusedActivation(after: i, of: layers)
            if let p = PhasedConv(conv: w, bias: b, geometry: geo, inHeight: shape[1], inWidth: shape[2],
                                  activation: a, policy: policy), worthIt(p, layer, shape) {
                return (.phased(p), n)
            }
        case .upsampleNearest(let s):
            if i + 1 < layers.count, case .conv2d(let w, let b, let geo) = layers[i + 1] {
                let (a, n) = fusedActivation(after: i + 1, of: layers)
                if let p = PhasedConv(conv: w, bias: b, geometry: geo, upsample: s, inHeight: shape[1],
                                      inWidth: shape[2], activation: a, policy: policy) {
                    return (.phased(p), n)
                }
            }
        case .activation(let a):
            return (.activation(a), i + 1)
        case .batchNorm(let scale, let shift):
            return (.batchNorm(scale: scale, shift: shift, inner: shape.reduce(1, *) / scale.count), i + 1)
        case .reshape, .flatten:
            break
        }
        return (nil, i + 1)
    }

    /// Scratch floats per worker of the largest step.
    private static func scratchPerWorker(_ steps: [(step: Step, outCount: Int)]) -> Int {
        var scratch = 0
        for (s, _) in steps {
            if case .phased(let p) = s { scratch = max(scratch, p.scratchPerWorker) }
            if case .scatter(let p) = s { scratch = max(scratch, p.scratchPerWorker) }
            if case .convTranspose(let p, let q) = s { scratch = max(scratch, p.scratchPerWorker, q.scratchPerWorker) }
        }
        return scratch
    }

    /// A single image's stages (empty where a step has none, or for one worker), which buffer
    /// each step reads, and whether the output ends in ping.
    private static func stages(_ steps: [(step: Step, outCount: Int)], workers: Int)
        -> ([(step: Int, stage: Int, items: Int)], [Bool], Bool) {
        var stages: [(step: Int, stage: Int, items: Int)] = [], readsPing: [Bool] = [], onPing = true
        var staged = workers > 1
        for (i, (s, _)) in steps.enumerated() {
            readsPing.append(onPing)
            switch s {
            case .dense(_, _, let outF, _, _, _):
                stages.append((i, 0, denseBands(outF, workers: workers))); onPing.toggle()
            case .phased(let p):
                if let items = p.stageItems(workers: workers) {
                    stages += items.enumerated().map { (i, $0.offset, $0.element) }
                } else {
                    staged = false
                }
                onPing.toggle()
            case .activation, .batchNorm:
                stages.append((i, 0, 1))
            default:
                staged = false; onPing.toggle()
            }
        }
        return (staged ? stages : [], readsPing, onPing)
    }

    /// Multiply-adds per image of all steps.
    var multiplyAdds: Int {
        steps.reduce(0) { total, s in
            switch s.step {
            case .dense(_, let inF, let outF, _, _, _): return total + inF * outF
            case .phased(let p): return total + p.multiplyAdds
            case .scatter(let p), .convTranspose(_, let p): return total + p.multiplyAdds
            case .layer(let layer, let input):
                let out = (try? layer.outputShape(for: input).get()) ?? input
                return total + layer.multiplyAdds(input: input, output: out)
            default: return total
            }
        }
    }

    /// Phases that do far more work than the layer (a small input under a large kernel) lose to
    /// the layer's own kernel.
    private static func worthIt(_ p: PhasedConv, _ layer: Layer, _ input: [Int]) -> Bool {
        guard let out = try? layer.outputShape(for: input).get() else { return false }
        return Double(p.multiplyAdds) <= 1.5 * Double(max(1, layer.multiplyAdds(input: input, output: out)))
    }

    /// Reused buffers of one caller.
    final class Arena {
        var ping: [Float] = [], pong: [Float] = [], scratch: [Float] = []
        func reserve(_ values: Int, scratch s: Int) {
            if ping.count < values {
                ping = [Float](repeating: 0, count: values); pong = [Float](repeating: 0, count: values)
            }
            if scratch.count < s { scratch = [Float](repeating: 0, count: s) }
        }
    }

    /// x (N, inputShape...) -> (N, outputShape...).
    func run(_ x: Tensor, arena: Arena) -> Tensor {
        let n = x.shape[0]
        precondition(x.count == n * inputCount)
        arena.reserve(n * widest, scratch: phasedScratch * workers)
        var result = [Float]()
        arena.ping.withUnsafeMutableBufferPointer { pingBuffer in
            arena.pong.withUnsafeMutableBufferPointer { pongBuffer in
                arena.scratch.withUnsafeMutableBufferPointer { scratchBuffer in
                    var cur = pingBuffer.baseAddress!, other = pongBuffer.baseAddress!
                    let scratch = scratchBuffer.baseAddress!
                    x.data.withUnsafeBufferPointer { cur.update(from: $0.baseAddress!, count: x.count) }
                    if n == 1 && !stages.isEmpty {
                        runStaged(ping: cur, pong: other, scratch: scratch)
                        let end = endsInPing ? cur : other
                        result = Array(UnsafeBufferPointer(start: end, count: outputShape.reduce(1, *)))
                        return
                    }
                    var curCount = inputCount
                    for (step, outCount) in steps {
                        if execute(step, n: n, inCount: curCount, outCount: outCount, x: cur, y: other, scratch: scratch) {
                            swap(&cur, &other)
                        }
                        curCount = outCount
                    }
                    result = Array(UnsafeBufferPointer(start: cur, count: n * curCount))
                }
            }
        }
        return Tensor(shape: [n] + outputShape, data: result)
    }

    /// One image through `stages` in one `Parallel.forStages`.
    private func runStaged(ping: UnsafeMutablePointer<Float>, pong: UnsafeMutablePointer<Float>,
                           scratch: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: stages.count) { counts in
            for (k, s) in stages.enumerated() { counts[k] = s.items }
            Parallel.forStages(UnsafeBufferPointer(counts), maxWorkers: workers) { k, item, worker in
                let (i, stage, items) = stages[k]
                let (x, y) = readsPing[i] ? (ping, pong) : (pong, ping)
                let step = steps[i].step
                switch step {
                case .dense(_, _, let outF, _, _, _):
                    dense(step, rows: 0..<1, columns: (outF * item / items)..<(outF * (item + 1) / items), x: x, y: y)
                case .phased(let p):
                    p.runStage(stage, item: item, worker: worker, image: 0, x, into: y, scratch: scratch, workers: workers)
                default:
                    _ = execute(step, n: 1, inCount: i == 0 ? inputCount : steps[i - 1].outCount,
                                outCount: steps[i].outCount, x: x, y: y, scratch: scratch)
                }
            }
        }
    }

    /// Bands of output columns a dense step on fewer rows than workers splits into: one per worker
    /// from 256 columns, else one (a narrow layer takes less than a hand-off costs).
    static func denseBands(_ outFeatures: Int, workers: Int) -> Int { outFeatures >= 256 ? workers : 1 }

    /// Rows `rows`, output columns `columns` of a dense step: the product, then bias and activation.
    private func dense(_ step: Step, rows: Range<Int>, columns colsR: Range<Int>, x: UnsafeMutablePointer<Float>,
                       y: UnsafeMutablePointer<Float>) {
        guard case .dense(let weight, let inF, let outF, let bias, let rep, let act) = step else { return }
        weight.withUnsafeBufferPointer { wb in
            bias.withUnsafeBufferPointer { bb in
                let w = wb.baseAddress!
                let b = w + colsR.lowerBound
                if fast {
                    // FastGemm: a few rows as row vectors times the weights read in place
                    // (a matrix product first copies them into its packed form), more as
                    // one product. Both add x[p] * w[p][j] in order of p with one fused
                    // multiply-add each, so a row's values never depend on the batch.
                    if rows.count < 4 {
                        for row in rows {
                            FastGemm.rowTimesMatrix(k: inF, n: colsR.count, x: x + row * inF, w: b, ldw: outF,
                                                    y: y + row * outF + colsR.lowerBound)
                        }
                    } else {
                        let packed = FastGemm.pack(m: rows.count, k: inF, x + rows.lowerBound * inF, lda: inF)
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: FastGemm.scratchCount(rows: rows.count)) { s in
                            FastGemm.multiply(m: rows.count, n: colsR.count, k: inF, packedA: packed,
                                              b: .matrix(b, ld: outF, transposed: false),
                                              into: .init(base: y + rows.lowerBound * outF + colsR.lowerBound, rowStride: outF),
                                              scratch: s.baseAddress!)
                        }
                    }
                } else {
                    Gemm.sgemm(transposeA: false, transposeB: false, m: rows.count, n: colsR.count, k: inF,
                               a: x + rows.lowerBound * inF, lda: inF, b: b, ldb: outF,
                               c: y + rows.lowerBound * outF + colsR.lowerBound, ldc: outF)
                }
                let bias = bb.baseAddress!   // a plain pointer, so that the loops vectorise
                for row in rows {
                    let line = y + row * outF
                    switch act {
                    case .relu where rep == 1: for j in colsR { line[j] = max(line[j] + bias[j], 0) }
                    case .identity where rep == 1: for j in colsR { line[j] += bias[j] }
                    default:
                        // Runs of `rep` columns share a bias value.
                        var j = colsR.lowerBound
                        while j < colsR.upperBound {
                            let b = bias[j / rep], end = min(colsR.upperBound, (j / rep + 1) * rep)
                            for i in j..<end { line[i] = act.value(line[i] + b) }
                            j = end
                        }
                    }
                }
            }
        }
    }

    /// Runs one step from `x` into `y` (returns true) or in place on `x` (returns false).
    private func execute(_ step: Step, n: Int, inCount: Int, outCount: Int, x: UnsafeMutablePointer<Float>,
                         y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) -> Bool {
        switch step {
        case .dense(_, _, let outF, _, _, _):
            // Many rows: split the batch; few: split the output columns.
            let byRows = n >= workers
            Parallel.forChunks(byRows ? n : outF, maxWorkers: byRows ? workers : Self.denseBands(outF, workers: workers)) { r, _ in
                dense(step, rows: byRows ? r : 0..<n, columns: byRows ? 0..<outF : r, x: x, y: y)
            }
            return true
        case .phased(let p):
            p.forward(x, count: n, into: y, scratch: scratch, workers: workers)
            return true
        case .scatter(let p):
            p.forward(x, count: n, into: y, scratch: scratch, workers: workers)
            return true
        case .convTranspose(let small, let large):
            if n >= Self.scatterBatch {
                large.forward(x, count: n, into: y, scratch: scratch, workers: workers)
            } else {
                small.forward(x, count: n, into: y, scratch: scratch, workers: workers)
            }
            return true
        case .activation(let a):
            a.apply(UnsafeMutableBufferPointer(start: x, count: n * inCount))
            return false
        case .batchNorm(let scale, let shift, let inner):
            for img in 0..<n {
                for c in scale.indices {
                    let base = x + (img * scale.count + c) * inner
                    let s = scale[c], b = shift[c]
                    for i in 0..<inner { base[i] = base[i] * s + b }
                }
            }
            return false
        case .layer(let layer, let input):
            let t = Tensor(shape: [n] + input, data: Array(UnsafeBufferPointer(start: x, count: n * inCount)))
            let out = layer.forward(t)
            precondition(out.count == n * outCount)
            out.data.withUnsafeBufferPointer { y.update(from: $0.baseAddress!, count: out.count) }
            return true
        }
    }
}

/// The compiled plan of one generator and a pool of arenas, built on first use; also its
/// batch-norm-folded twin, so that asking for it again reuses that twin's warm plan.
final class PlanCache: @unchecked Sendable {
    private let lock = NSLock()
    private var plan: InferencePlan?
    private var arenas: [InferencePlan.Arena] = []
    private var folded: Generator?

    func folded(_ make: () -> Generator) -> Generator {
        lock.lock()
        defer { lock.unlock() }
        if let folded { return folded }
        let g = make()
        folded = g
        return g
    }

    func run(_ g: Generator, _ x: Tensor) -> Tensor {
        lock.lock()
        if plan == nil { plan = InferencePlan(g, policy: g.policy ?? .default) }
        let p = plan!
        let arena = arenas.popLast() ?? InferencePlan.Arena()
        lock.unlock()
        let y = p.run(x, arena: arena)
        lock.lock()
        arenas.append(arena)
        lock.unlock()
        return y
    }
}
