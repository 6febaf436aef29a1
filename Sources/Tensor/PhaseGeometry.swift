/// How a convolution-like layer splits into phases: small dense correlations over its real input.
///
/// - conv2d: one phase (per group of outputs that read the same pattern of input rows).
/// - nearest upsample by s, then conv2d: the s*s output phases each see only a few distinct input
///   rows and columns, so a 3x3 kernel after x2 upsampling collapses to four 2x2 kernels on the
///   small input (4/9 of the multiply-adds).
/// - conv-transpose2d with stride s: s*s phases, each a dense correlation with a ceil(k/s) kernel
///   (no scatter, no zeros inserted).
///
/// Along each axis, output o reads input rows `inStart + t*inStep + e` (t the output's index inside
/// its phase, e < taps) with the summed kernel rows `taps[e]`. The geometry holds the axes of every
/// phase, the zero-padded window they read together, and how the layer's weight is laid out; it
/// knows nothing of kernels (`ConvEngine` chooses one, `PhasedConv` runs it).
public struct PhaseGeometry: Sendable {
    /// One axis of one phase.
    public struct Axis: Sendable, Equatable {
        public var outStart: Int, outStep: Int, outCount: Int
        public var inStart: Int, inStep: Int
        /// For each effective tap, the original kernel indices that land on the same input row.
        public var taps: [[Int]]
    }

    public let inChannels: Int, outChannels: Int
    public let inHeight: Int, inWidth: Int
    public let outHeight: Int, outWidth: Int
    /// The phases' rows and columns: phase (i, j) is (ys[i], xs[j]).
    public let ys: [Axis], xs: [Axis]
    /// The padded input window: rows padTop..<padTop+paddedHeight of the input (negative = zeros).
    let padTop: Int, padLeft: Int, paddedHeight: Int, paddedWidth: Int
    /// Positions the shifted products compute per real output (the padded windows' spare).
    public let spareRatio: Double
    /// Every axis reads consecutive input rows/columns (stride-1 conv, upsample + conv,
    /// conv-transpose).
    let consecutive: Bool
    /// The layer's weight is read at o * strides.o + c * strides.c + ki * strides.ki + kj.
    let weightStrides: (o: Int, c: Int, ki: Int)

    /// conv2d on an input (C, H, W) that is first upsampled (nearest) by `upsample`.
    /// weight (O, C, kh, kw).
    init?(conv g: ConvGeometry, upsample u: Int, inHeight h: Int, inWidth w: Int) {
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
                  ys: ys, xs: xs, weightStrides: (c * kh * kw, kh * kw, kw))
    }

    /// conv-transpose2d on an input (C, H, W); weight (C, O, kh, kw) as PyTorch stores it.
    init?(convTranspose g: ConvGeometry, inHeight h: Int, inWidth w: Int) {
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
                  ys: ys, xs: xs, weightStrides: (kh * kw, o * kh * kw, kw))
    }

    private init(inChannels c: Int, outChannels o: Int, inHeight h: Int, inWidth w: Int,
                 outHeight oh: Int, outWidth ow: Int, ys: [Axis], xs: [Axis], weightStrides: (o: Int, c: Int, ki: Int)) {
        func window(_ axes: [Axis]) -> (Int, Int) {
            let lo = axes.map(\.inStart).min()!
            let hi = axes.map { $0.inStart + ($0.outCount - 1) * $0.inStep + max(1, $0.taps.count) }.max()!
            return (lo, hi - lo)
        }
        (padTop, paddedHeight) = window(ys)
        (padLeft, paddedWidth) = window(xs)
        spareRatio = Double(ys.count * xs.count * paddedHeight * paddedWidth) / Double(oh * ow)
        consecutive = (ys + xs).allSatisfy(Self.consecutive)
        self.ys = ys; self.xs = xs
        self.weightStrides = weightStrides
        inChannels = c; outChannels = o
        inHeight = h; inWidth = w; outHeight = oh; outWidth = ow
    }

    /// Whether an axis reads consecutive input rows (or has one output, or no taps).
    static func consecutive(_ a: Axis) -> Bool { a.inStep == 1 || a.outCount == 1 || a.taps.isEmpty }

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

    /// The range of u in 0..<count with 0 <= start + u * step < size (step >= 0).
    static func inside(start: Int, step: Int, count: Int, size: Int) -> (Int, Int) {
        if step == 0 { return start >= 0 && start < size ? (0, count) : (0, 0) }
        let lo = start >= 0 ? 0 : (-start + step - 1) / step
        let hi = start >= size ? 0 : (size - start + step - 1) / step
        let l = min(count, lo), h = min(count, hi)
        return l < h ? (l, h) : (0, 0)
    }
}
