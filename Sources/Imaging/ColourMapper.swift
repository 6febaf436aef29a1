import Foundation

/// How colour frames are dithered onto their palette.
public enum Dither: Equatable, Sendable {
    /// Nearest palette colour, no dithering (smallest files; banding in smooth gradients).
    case none
    /// 8x8 Bayer ordered dithering. The pattern depends only on the pixel position, so a still
    /// region gets the same indices in every frame: no crawling noise. `strength` scales the
    /// offsets relative to the palette's typical colour spacing (1 = that spacing).
    case ordered(strength: Float)

    public static let ordered = Dither.ordered(strength: 1)
}

/// Maps pixels to palette indices through an inverse colour map: a 64x64x64 table over the
/// top 6 bits of each channel, each cell filled (on first use) with the palette entry nearest
/// to the cell's centre. With an exact palette every pixel is looked up exactly instead.
final class ColourMapper {
    let palette: Palette
    private let xs: [Float], ys: [Float], zs: [Float]
    private var table: [UInt16]
    private let exact: [UInt32: UInt8]
    /// The palette is `Palette.grey256`: a grey pixel's value is its index.
    private let isGrey256: Bool
    /// Ordered-dither amplitude in sRGB levels (0 when not dithering).
    private let amplitude: Float

    private static let bayer: [Int] = {
        var m = [[0]]
        while m.count < 8 {
            let n = m.count
            var next = [[Int]](repeating: [Int](repeating: 0, count: 2 * n), count: 2 * n)
            for y in 0..<n {
                for x in 0..<n {
                    let v = 4 * m[y][x]
                    next[y][x] = v; next[y][x + n] = v + 2; next[y + n][x] = v + 3; next[y + n][x + n] = v + 1
                }
            }
            m = next
        }
        return m.flatMap { $0 }
    }()

    init(palette: Palette, dither: Dither) {
        self.palette = palette
        let points = palette.colours.map(QuantisationSpace.point)
        xs = points.map(\.x); ys = points.map(\.y); zs = points.map(\.z)
        table = [UInt16](repeating: .max, count: 64 * 64 * 64)
        isGrey256 = palette == .grey256
        if palette.isExact {
            var map: [UInt32: UInt8] = [:]
            for (i, c) in palette.colours.enumerated() where map[c.key] == nil { map[c.key] = UInt8(i) }
            exact = map
            amplitude = 0
        } else {
            exact = [:]
            if case let .ordered(strength) = dither {
                amplitude = strength * ColourMapper.spacing(palette.colours)
            } else {
                amplitude = 0
            }
        }
    }

    /// Median distance from each palette colour to its nearest neighbour, in sRGB levels.
    static func spacing(_ colours: [RGB]) -> Float {
        guard colours.count > 1 else { return 0 }
        let p = colours.map { SIMD3(Float($0.r), Float($0.g), Float($0.b)) }
        var nearest: [Float] = []
        for i in p.indices {
            var best = Float.infinity
            for j in p.indices where j != i { best = min(best, ((p[i] - p[j]) * (p[i] - p[j])).sum()) }
            nearest.append(best.squareRoot())
        }
        nearest.sort()
        return nearest[nearest.count / 2]
    }

    @inline(__always) private func nearest(_ colour: SIMD3<Float>) -> Int {
        let p = QuantisationSpace.point(rgb: colour)
        let px = p.x, py = p.y, pz = p.z
        var best = 0
        var bestDistance = Float.infinity
        xs.withUnsafeBufferPointer { xs in ys.withUnsafeBufferPointer { ys in zs.withUnsafeBufferPointer { zs in
            for j in 0..<xs.count {
                let dx = px - xs[j], dy = py - ys[j], dz = pz - zs[j]
                let distance = dx * dx + dy * dy + dz * dz
                if distance < bestDistance { bestDistance = distance; best = j }
            }
        } } }
        return best
    }

    /// The palette index for an (already dithered) colour.
    @inline(__always) private func lookup(_ r: Int, _ g: Int, _ b: Int) -> UInt8 {
        let cell = (r >> 2) << 12 | (g >> 2) << 6 | (b >> 2)
        let cached = table[cell]
        if cached != .max { return UInt8(cached) }
        let centre = SIMD3(Float((r >> 2) << 2) + 1.5, Float((g >> 2) << 2) + 1.5, Float((b >> 2) << 2) + 1.5)
        let index = nearest(centre)
        table[cell] = UInt16(index)
        return UInt8(index)
    }

    /// Maps `frame` (grey, RGB or RGBA; alpha ignored) to `indices` (width*height, packed).
    func map(_ frame: PixelImage, into indices: inout [UInt8]) {
        let w = frame.width, h = frame.height, c = frame.channels
        if indices.count != w * h { indices = [UInt8](repeating: 0, count: w * h) }
        if isGrey256 && c == 1 {
            for y in 0..<h { indices[y * w ..< (y + 1) * w] = frame.pixels[y * frame.stride ..< y * frame.stride + w] }
            return
        }
        let amplitude = self.amplitude
        // Bayer offsets in levels: ((m + 0.5) / 64 - 0.5) * amplitude, as Ints per cell.
        let offsets = ColourMapper.bayer.map { Int((((Float($0) + 0.5) / 64 - 0.5) * amplitude).rounded()) }
        frame.pixels.withUnsafeBufferPointer { src in
            indices.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    var o = y * frame.stride
                    let row = (y & 7) << 3
                    for x in 0..<w {
                        let r = Int(src[o]), g = c == 1 ? r : Int(src[o + 1]), b = c == 1 ? r : Int(src[o + 2])
                        if !exact.isEmpty {
                            let key = UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
                            dst[y * w + x] = exact[key] ?? lookup(r, g, b)
                        } else if amplitude == 0 {
                            dst[y * w + x] = lookup(r, g, b)
                        } else {
                            let d = offsets[row | (x & 7)]
                            dst[y * w + x] = lookup(min(255, max(0, r + d)), min(255, max(0, g + d)), min(255, max(0, b + d)))
                        }
                        o += c
                    }
                }
            }
        }
    }
}

extension RGB {
    var key: UInt32 { UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b) }
}
