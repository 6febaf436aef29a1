import Foundation
import Tensor
import Training

/// Multi-scale sliced Wasserstein distance on Laplacian-pyramid patches, as in Karras et al.
/// 2018 (Progressive GAN, appendix D; `metrics/sliced_wasserstein.py` of their code):
/// - a Laplacian pyramid per image (5x5 binomial filter, mirrored borders, as cv2.pyrDown/pyrUp)
///   with levels from the full size down to the last size >= 16;
/// - per level, `descriptorsPerImage` random 7x7 neighbourhoods (all channels) per image;
/// - each set's descriptors normalised per channel by its own mean and standard deviation;
/// - the sliced Wasserstein distance: `repeats` draws of `directionsPerRepeat` random unit
///   directions (4 x 128 = 512 in all), each set projected and sorted, the mean absolute
///   difference of sorted projections, averaged over directions and repeats;
/// - reported x 1e3 per level, and their average.
/// Images are bytes (0...255), as the paper's code reads them.
public struct SlicedWasserstein: Equatable, Sendable {
    public var neighbourhood = 7
    public var descriptorsPerImage = 128
    public var directionsPerRepeat = 128
    public var repeats = 4
    public var smallestLevel = 16

    public init() {}

    /// The pyramid's level sizes for images of `size` pixels: size, size/2, ... while >= 16.
    public func levelSizes(for size: Int) -> [Int] {
        var out: [Int] = [], s = size
        while s >= smallestLevel { out.append(s); s /= 2 }
        return out
    }

    public struct Result: Equatable, Sendable, Codable {
        /// (resolution, SWD x 1e3) from the finest level to the coarsest.
        public var levels: [Level]
        public var average: Double
        public var images: Int

        public struct Level: Equatable, Sendable, Codable {
            public var resolution: Int
            public var distance: Double
        }
    }

    /// Checks that two image sets can be compared; equal counts are needed (the paper's code
    /// compares equal numbers of descriptors).
    public func check(_ a: ImageDataset, _ b: ImageDataset) throws {
        guard a.channels == b.channels, a.height == b.height, a.width == b.width else {
            throw EvaluationError.shapeMismatch(what: "SWD image sets", expected: "\(a.channels)x\(a.height)x\(a.width)",
                                                actual: "\(b.channels)x\(b.height)x\(b.width)", hint: "compare images of one size and channel count")
        }
        guard a.count == b.count, a.count >= 1 else {
            throw EvaluationError.tooFewImages(what: "SWD image sets (\(a.count) and \(b.count))", count: min(a.count, b.count), needed: 1,
                                               hint: "pass sets of equal, non-zero size")
        }
        let size = min(a.height, a.width)
        guard size >= smallestLevel else {
            throw EvaluationError.tooFewImages(what: "SWD needs images of at least \(smallestLevel) pixels, these are \(a.width)x\(a.height);", count: a.count, needed: a.count, hint: "SWD is not defined for such small images")
        }
        for s in levelSizes(for: size).dropLast() where s % 2 != 0 {
            throw EvaluationError.shapeMismatch(what: "SWD Laplacian pyramid", expected: "even sizes at every level but the last",
                                                actual: "\(levelSizes(for: size))", hint: "resize the images (e.g. to 32 or 64 pixels)")
        }
    }

    /// SWD x 1e3 per level between two equal-sized image sets. Deterministic for a seed.
    public func distance(_ a: ImageDataset, _ b: ImageDataset, seed: UInt64) throws -> Result {
        try check(a, b)
        let levelCount = levelSizes(for: min(a.height, a.width)).count
        let da = descriptors(a, levels: levelCount, seed: seed)
        let db = descriptors(b, levels: levelCount, seed: seed)
        var levels: [Result.Level] = []
        for l in 0..<levelCount {
            var rng = RandomStream(seed: seed, purpose: 0x5744, index: UInt64(l))
            var total = 0.0
            for _ in 0..<repeats {
                let dirs = Self.randomDirections(count: directionsPerRepeat, size: da[l].width, rng: &rng)
                total += Self.slicedDistance(da[l], db[l], directions: dirs)
            }
            levels.append(.init(resolution: levelSizes(for: min(a.height, a.width))[l], distance: 1e3 * total / Double(repeats)))
        }
        return Result(levels: levels, average: levels.map(\.distance).reduce(0, +) / Double(max(1, levels.count)), images: a.count)
    }

    // MARK: Pieces (each checked against the numpy reference in the tests)

    /// Descriptors (rows of C * 7 * 7 values in (channel, y, x) order), one matrix per level,
    /// normalised per channel. Positions depend on (seed, image index, level) only, so two sets
    /// are sampled at the same places and identical sets are at distance 0 exactly.
    public func descriptors(_ images: ImageDataset, levels: Int, seed: UInt64) -> [Matrix] {
        let (c, h, w) = (images.channels, images.height, images.width)
        let k = neighbourhood, half = k / 2
        let plane = c * h * w, width = c * k * k, rowsPerImage = descriptorsPerImage
        // One buffer per level, written by image ranges in parallel (disjoint rows).
        let buffers = (0..<levels).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: images.count * rowsPerImage * width) }
        defer { buffers.forEach { $0.deallocate() } }
        images.pixels.withUnsafeBufferPointer { src in
            Parallel.forChunks(images.count) { range, _ in
                for i in range {
                    let image = (0..<plane).map { Float(src[i * plane + $0]) }
                    let pyramid = Self.laplacianPyramid(image, channels: c, height: h, width: w, levels: levels)
                    for (l, level) in pyramid.enumerated() {
                        // Positions: one stream per (image, level).
                        var rng = RandomStream(seed: seed, purpose: 0x5744_0001, index: UInt64(i * levels + l))
                        let dst = buffers[l] + i * rowsPerImage * width
                        var o = 0
                        for _ in 0..<rowsPerImage {
                            let y = half + rng.nextIndex(level.height - 2 * half)
                            let x = half + rng.nextIndex(level.width - 2 * half)
                            for ch in 0..<c { for dy in -half...half { for dx in -half...half {
                                dst[o] = level.values[(ch * level.height + y + dy) * level.width + x + dx]; o += 1
                            } } }
                        }
                    }
                }
            }
        }
        var out: [Matrix] = []
        for l in 0..<levels {
            var m = Matrix(rows: images.count * rowsPerImage, width: width,
                           values: Array(UnsafeBufferPointer(start: buffers[l], count: images.count * rowsPerImage * width)))
            Self.normalisePerChannel(&m, channels: c)
            out.append(m)
        }
        return out
    }

    /// Row-major matrix of Floats.
    public struct Matrix: Equatable, Sendable {
        public var rows: Int
        public var width: Int
        public var values: [Float]
        public init(rows: Int, width: Int, values: [Float]? = nil) {
            self.rows = rows; self.width = width
            self.values = values ?? [Float](repeating: 0, count: rows * width)
            precondition(self.values.count == rows * width)
        }
    }

    /// One pyramid level of one image: (C, H, W) floats.
    public struct Plane: Equatable, Sendable {
        public var channels: Int, height: Int, width: Int
        public var values: [Float]
    }

    /// Laplacian pyramid of one image (C, H, W): level i = G_i - up(G_{i+1}), the last level G_{n-1}.
    public static func laplacianPyramid(_ image: [Float], channels: Int, height: Int, width: Int, levels: Int) -> [Plane] {
        var pyramid = [Plane(channels: channels, height: height, width: width, values: image)]
        for _ in 1..<max(1, levels) {
            let down = pyrDown(pyramid[pyramid.count - 1])
            let up = pyrUp(down)
            precondition(up.height == pyramid[pyramid.count - 1].height && up.width == pyramid[pyramid.count - 1].width,
                         "odd level size in the Laplacian pyramid (check() refuses these)")
            for j in 0..<up.values.count { pyramid[pyramid.count - 1].values[j] -= up.values[j] }
            pyramid.append(down)
        }
        return pyramid
    }

    static let binomial: [Float] = [1, 4, 6, 4, 1].map { $0 / 16 }

    /// Index into 0..<n reflected about the edge samples ("mirror" in scipy.ndimage, cv2's BORDER_REFLECT_101).
    @inline(__always) static func mirror(_ i: Int, _ n: Int) -> Int {
        if n == 1 { return 0 }
        var i = i
        let period = 2 * (n - 1)
        i = ((i % period) + period) % period
        return i < n ? i : period - i
    }

    /// Separable 5x5 binomial blur with mirrored borders, times `gain`.
    static func blur(_ p: Plane, gain: Float) -> Plane {
        var tmp = p, out = p
        let (h, w) = (p.height, p.width)
        for c in 0..<p.channels {
            let o = c * h * w
            for y in 0..<h { for x in 0..<w {
                var s: Float = 0
                for t in 0..<5 { s += binomial[t] * p.values[o + y * w + mirror(x + t - 2, w)] }
                tmp.values[o + y * w + x] = s
            } }
            for y in 0..<h { for x in 0..<w {
                var s: Float = 0
                for t in 0..<5 { s += binomial[t] * tmp.values[o + mirror(y + t - 2, h) * w + x] }
                out.values[o + y * w + x] = s * gain
            } }
        }
        return out
    }

    /// Blur, then keep even rows and columns: (C, H, W) -> (C, ceil(H/2), ceil(W/2)).
    public static func pyrDown(_ p: Plane) -> Plane {
        let b = blur(p, gain: 1)
        let (h2, w2) = ((p.height + 1) / 2, (p.width + 1) / 2)
        var out = Plane(channels: p.channels, height: h2, width: w2, values: [Float](repeating: 0, count: p.channels * h2 * w2))
        for c in 0..<p.channels { for y in 0..<h2 { for x in 0..<w2 {
            out.values[(c * h2 + y) * w2 + x] = b.values[(c * p.height + 2 * y) * p.width + 2 * x]
        } } }
        return out
    }

    /// Zeros between samples, then blur times 4: (C, H, W) -> (C, 2H, 2W).
    public static func pyrUp(_ p: Plane) -> Plane {
        let (h2, w2) = (2 * p.height, 2 * p.width)
        var z = Plane(channels: p.channels, height: h2, width: w2, values: [Float](repeating: 0, count: p.channels * h2 * w2))
        for c in 0..<p.channels { for y in 0..<p.height { for x in 0..<p.width {
            z.values[(c * h2 + 2 * y) * w2 + 2 * x] = p.values[(c * p.height + y) * p.width + x]
        } } }
        return blur(z, gain: 4)
    }

    /// Subtracts each channel's mean and divides by its (population) standard deviation, over
    /// all rows and the 7x7 positions of that channel.
    public static func normalisePerChannel(_ m: inout Matrix, channels: Int) {
        let per = m.width / channels
        for c in 0..<channels {
            var sum = 0.0, sumSq = 0.0
            for r in 0..<m.rows { for j in 0..<per { let v = Double(m.values[r * m.width + c * per + j]); sum += v; sumSq += v * v } }
            let n = Double(m.rows * per)
            let mean = sum / n
            let std = max(0, sumSq / n - mean * mean).squareRoot()
            let inv = std > 0 ? 1 / std : 1
            for r in 0..<m.rows { for j in 0..<per {
                let i = r * m.width + c * per + j
                m.values[i] = Float((Double(m.values[i]) - mean) * inv)
            } }
        }
    }

    /// `count` random unit directions of `size` components: (count, size) row-major.
    public static func randomDirections(count: Int, size: Int, rng: inout RandomStream) -> Matrix {
        var d = Matrix(rows: count, width: size)
        for r in 0..<count {
            var norm = 0.0
            for j in 0..<size { let v = rng.nextNormal(); d.values[r * size + j] = Float(v); norm += v * v }
            let inv = Float(1 / norm.squareRoot())
            for j in 0..<size { d.values[r * size + j] *= inv }
        }
        return d
    }

    /// Mean over directions and rows of |sort(A d) - sort(B d)|; A and B (n, D), directions (K, D).
    public static func slicedDistance(_ a: Matrix, _ b: Matrix, directions: Matrix) -> Double {
        precondition(a.rows == b.rows && a.width == b.width && directions.width == a.width, "SWD sets must have equal shapes")
        let n = a.rows, k = directions.rows
        func project(_ m: Matrix) -> [Float] {      // (K, n): row r = projections on direction r
            var out = [Float](repeating: 0, count: k * n)
            m.values.withUnsafeBufferPointer { mv in directions.values.withUnsafeBufferPointer { dv in out.withUnsafeMutableBufferPointer { o in
                Gemm.sgemm(transposeA: false, transposeB: true, m: k, n: n, k: m.width, a: dv.baseAddress!, lda: m.width,
                           b: mv.baseAddress!, ldb: m.width, c: o.baseAddress!, ldc: n)
            } } }
            return out
        }
        var pa = project(a), pb = project(b)
        var sums = [Double](repeating: 0, count: k)
        pa.withUnsafeMutableBufferPointer { ua in pb.withUnsafeMutableBufferPointer { ub in sums.withUnsafeMutableBufferPointer { us in
            let (ba, bb, bs) = (ua.baseAddress!, ub.baseAddress!, us.baseAddress!)
            Parallel.forChunks(k) { range, _ in
                for r in range {
                    var ra = UnsafeMutableBufferPointer(start: ba + r * n, count: n)
                    var rb = UnsafeMutableBufferPointer(start: bb + r * n, count: n)
                    ra.sort(); rb.sort()
                    var s = 0.0
                    for i in 0..<n { s += Double(abs(ra[i] - rb[i])) }
                    bs[r] = s
                }
            }
        } } }
        return sums.reduce(0, +) / Double(n * k)
    }
}
