import Foundation

/// An indexed-colour palette of at most 256 colours.
public struct Palette: Equatable, Sendable {
    public var colours: [RGB]
    /// True when every colour of the source was kept (the sample had at most `maxColours`
    /// distinct colours): mapping a pixel from that source is then exact.
    public var isExact: Bool

    public init(colours: [RGB], isExact: Bool = false) {
        precondition(!colours.isEmpty && colours.count <= 256, "a palette holds 1...256 colours")
        self.colours = colours
        self.isExact = isExact
    }

    /// 256 levels of grey, index i = (i, i, i): grey images map to it without any loss.
    public static let grey256 = Palette(colours: (0...255).map { RGB(grey: UInt8($0)) }, isExact: true)

    /// Builds a palette for `frames` (grey, RGB or RGBA; alpha ignored).
    ///
    /// If the frames hold at most `maxColours` distinct colours, the palette is exactly those
    /// colours (lossless: plots, grids, flat art). Otherwise: up to `maxSamples` pixels, taken
    /// evenly from all frames, are binned into a 32x32x32 histogram (each bin keeps the mean of
    /// its colours and a count); a variance-based median cut splits that weighted cloud into
    /// `maxColours` boxes, and k-means (Lloyd, `iterations` rounds, weighted) refines the box
    /// means. Distances are measured in `QuantisationSpace`, RGB scaled per channel.
    /// Deterministic: the same frames give the same palette.
    public static func build(from frames: [PixelImage], maxColours: Int = 256, maxSamples: Int = 1 << 20,
                             iterations: Int = 8) -> Palette {
        precondition(!frames.isEmpty, "need at least one frame to build a palette")
        precondition(maxColours >= 2 && maxColours <= 256, "maxColours must be 2...256")
        if let exact = exactColours(frames, limit: maxColours) {
            return Palette(colours: exact, isExact: true)
        }
        let cloud = histogram(frames, maxSamples: maxSamples)
        var centres = medianCut(cloud, count: maxColours)
        centres = kMeans(cloud, centres: centres, iterations: iterations)
        let colours = centres.map { QuantisationSpace.rgb(of: $0) }
        return Palette(colours: colours, isExact: false)
    }

    /// The distinct colours of `frames` in first-seen order, or nil when there are more than `limit`.
    static func exactColours(_ frames: [PixelImage], limit: Int) -> [RGB]? {
        var seen = Set<UInt32>()
        var order: [RGB] = []
        for frame in frames {
            let c = frame.channels
            for y in 0..<frame.height {
                var o = y * frame.stride
                for _ in 0..<frame.width {
                    let colour = c == 1 ? RGB(grey: frame.pixels[o]) : RGB(frame.pixels[o], frame.pixels[o + 1], frame.pixels[o + 2])
                    let key = UInt32(colour.r) << 16 | UInt32(colour.g) << 8 | UInt32(colour.b)
                    if seen.insert(key).inserted {
                        if order.count == limit { return nil }
                        order.append(colour)
                    }
                    o += c
                }
            }
        }
        return order
    }

    /// Weighted points: the mean colour (in quantisation space) of each occupied 5-bit bin.
    struct Cloud {
        var points: [SIMD3<Float>] = []
        var weights: [Float] = []
    }

    static func histogram(_ frames: [PixelImage], maxSamples: Int) -> Cloud {
        let total = frames.reduce(0) { $0 + $1.width * $1.height }
        let step = max(1, (total + maxSamples - 1) / maxSamples)
        var counts = [Int32](repeating: 0, count: 32 * 32 * 32)
        var sums = [SIMD3<Float>](repeating: .zero, count: 32 * 32 * 32)
        var phase = 0
        for frame in frames {
            let c = frame.channels
            frame.pixels.withUnsafeBufferPointer { p in
                for y in 0..<frame.height {
                    var x = phase
                    while x < frame.width {
                        let o = y * frame.stride + x * c
                        let r = p[o], g = c == 1 ? p[o] : p[o + 1], b = c == 1 ? p[o] : p[o + 2]
                        let bin = Int(r >> 3) << 10 | Int(g >> 3) << 5 | Int(b >> 3)
                        counts[bin] += 1
                        sums[bin] += SIMD3(Float(r), Float(g), Float(b))
                        x += step
                    }
                    // Offset the next row so a stride that divides the width does not sample columns only.
                    phase = (x - frame.width) % max(1, frame.width)
                }
            }
        }
        var cloud = Cloud()
        for bin in 0..<counts.count where counts[bin] > 0 {
            cloud.points.append(QuantisationSpace.point(rgb: sums[bin] / Float(counts[bin])))
            cloud.weights.append(Float(counts[bin]))
        }
        return cloud
    }

    /// Splits the cloud into `count` boxes, always splitting the box with the largest weighted
    /// squared error, along its widest-variance axis, at the cut that minimises the two halves'
    /// squared error. Returns the boxes' weighted means.
    static func medianCut(_ cloud: Cloud, count: Int) -> [SIMD3<Float>] {
        struct Box { var indices: [Int]; var error: Float; var mean: SIMD3<Float> }
        func stats(_ indices: [Int]) -> (SIMD3<Float>, Float, SIMD3<Float>) {
            var w: Float = 0, s = SIMD3<Float>.zero, s2 = SIMD3<Float>.zero
            for i in indices {
                let p = cloud.points[i], wi = cloud.weights[i]
                w += wi; s += wi * p; s2 += wi * p * p
            }
            let mean = s / max(w, 1e-9)
            let variance = s2 - w * mean * mean // per-axis weighted squared error
            return (mean, variance.sum(), variance)
        }
        let all = Array(cloud.points.indices)
        let (m0, e0, _) = stats(all)
        var boxes = [Box(indices: all, error: e0, mean: m0)]
        while boxes.count < count {
            guard let worst = boxes.indices.max(by: { boxes[$0].error < boxes[$1].error }),
                  boxes[worst].indices.count > 1, boxes[worst].error > 0 else { break }
            let box = boxes[worst]
            let (_, _, variance) = stats(box.indices)
            let axis = variance.x >= variance.y && variance.x >= variance.z ? 0 : (variance.y >= variance.z ? 1 : 2)
            let sorted = box.indices.sorted { cloud.points[$0][axis] < cloud.points[$1][axis] || (cloud.points[$0][axis] == cloud.points[$1][axis] && $0 < $1) }
            // Best cut along the axis by prefix sums of weight, sum and sum of squares (that axis).
            var prefixW: [Float] = [0], prefixS: [Float] = [0], prefixS2: [Float] = [0]
            for i in sorted {
                let v = cloud.points[i][axis], w = cloud.weights[i]
                prefixW.append(prefixW.last! + w); prefixS.append(prefixS.last! + w * v); prefixS2.append(prefixS2.last! + w * v * v)
            }
            let n = sorted.count
            var bestCut = n / 2, bestError = Float.infinity
            for cut in 1..<n {
                let wl = prefixW[cut], wr = prefixW[n] - wl
                let sl = prefixS[cut], sr = prefixS[n] - sl
                let el = prefixS2[cut] - sl * sl / wl
                let er = (prefixS2[n] - prefixS2[cut]) - sr * sr / wr
                if el + er < bestError { bestError = el + er; bestCut = cut }
            }
            let left = Array(sorted[..<bestCut]), right = Array(sorted[bestCut...])
            let (ml, el, _) = stats(left), (mr, er, _) = stats(right)
            boxes[worst] = Box(indices: left, error: el, mean: ml)
            boxes.append(Box(indices: right, error: er, mean: mr))
        }
        return boxes.map(\.mean)
    }

    /// Weighted Lloyd iterations; an emptied centre keeps its position.
    static func kMeans(_ cloud: Cloud, centres start: [SIMD3<Float>], iterations: Int) -> [SIMD3<Float>] {
        var centres = start
        let k = centres.count
        let n = cloud.points.count
        var assignment = [Int](repeating: 0, count: n)
        // Scalar planes: much faster than SIMD3 in debug builds, as fast in release.
        let xs = cloud.points.map(\.x), ys = cloud.points.map(\.y), zs = cloud.points.map(\.z)
        for _ in 0..<iterations {
            let cx = centres.map(\.x), cy = centres.map(\.y), cz = centres.map(\.z)
            xs.withUnsafeBufferPointer { xs in ys.withUnsafeBufferPointer { ys in zs.withUnsafeBufferPointer { zs in
            cx.withUnsafeBufferPointer { cx in cy.withUnsafeBufferPointer { cy in cz.withUnsafeBufferPointer { cz in
                assignment.withUnsafeMutableBufferPointer { assign in
                    DispatchQueue.concurrentPerform(iterations: 8) { part in
                        let lo = n * part / 8, hi = n * (part + 1) / 8
                        for i in lo..<hi {
                            let px = xs[i], py = ys[i], pz = zs[i]
                            var best = 0
                            var bestDistance = Float.infinity
                            for j in 0..<k {
                                let dx = px - cx[j], dy = py - cy[j], dz = pz - cz[j]
                                let distance = dx * dx + dy * dy + dz * dz
                                if distance < bestDistance { bestDistance = distance; best = j }
                            }
                            assign[i] = best
                        }
                    }
                }
            } } } } } }
            var sums = [SIMD3<Float>](repeating: .zero, count: k)
            var weights = [Float](repeating: 0, count: k)
            for i in 0..<n {
                sums[assignment[i]] += cloud.weights[i] * cloud.points[i]
                weights[assignment[i]] += cloud.weights[i]
            }
            var moved = false
            for j in 0..<k where weights[j] > 0 {
                let c = sums[j] / weights[j]
                if c != centres[j] { moved = true; centres[j] = c }
            }
            if !moved { break }
        }
        return centres
    }
}

/// The space distances are measured in when building palettes and mapping pixels: sRGB values
/// scaled per channel by `scale` (a diagonal metric; green weighs most, blue least, as in luma).
enum QuantisationSpace {
    static let scale = SIMD3<Float>(1, 1, 1)

    @inline(__always) static func point(rgb: SIMD3<Float>) -> SIMD3<Float> { rgb * scale }

    @inline(__always) static func point(_ c: RGB) -> SIMD3<Float> { point(rgb: SIMD3(Float(c.r), Float(c.g), Float(c.b))) }

    static func rgb(of point: SIMD3<Float>) -> RGB {
        let v = (point / scale).rounded(.toNearestOrAwayFromZero)
        func byte(_ x: Float) -> UInt8 { UInt8(min(255, max(0, x))) }
        return RGB(byte(v.x), byte(v.y), byte(v.z))
    }
}
