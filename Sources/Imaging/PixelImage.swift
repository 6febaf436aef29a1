import Foundation

/// An 8-bit image: grey (1 channel), RGB (3) or RGBA (4, produced by PNG reads of files with
/// alpha; composite it away with `removingAlpha(over:)` before GIF encoding).
///
/// Pixels are interleaved, row-major, `stride` bytes from one row to the next
/// (`stride >= width * channels`; the bytes past `width * channels` in a row are padding and
/// take no part in equality). Knows nothing of tensors: generator output comes in through
/// `fromFloats`, datasets go out through `toFloats`.
public struct PixelImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let stride: Int
    public var pixels: [UInt8]

    /// A blank image filled with `fill`, rows packed (`stride == width * channels`).
    public init(width: Int, height: Int, channels: Int, fill: UInt8 = 0) {
        precondition(width > 0 && height > 0, "image size must be positive, got \(width)x\(height)")
        precondition([1, 3, 4].contains(channels), "channels must be 1, 3 or 4, got \(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.stride = width * channels
        self.pixels = [UInt8](repeating: fill, count: width * height * channels)
    }

    /// Wraps existing pixels; checks the sizes (user data, so it throws).
    public init(width: Int, height: Int, channels: Int, stride: Int? = nil, pixels: [UInt8]) throws {
        let rowBytes = width * channels
        let stride = stride ?? rowBytes
        guard width > 0, height > 0 else {
            throw ImagingError.invalidArgument(name: "image size", value: "\(width)x\(height)", hint: "width and height must be at least 1")
        }
        guard [1, 3, 4].contains(channels) else {
            throw ImagingError.invalidArgument(name: "channels", value: "\(channels)", hint: "use 1 (grey), 3 (RGB) or 4 (RGBA)")
        }
        guard stride >= rowBytes else {
            throw ImagingError.invalidArgument(name: "stride", value: "\(stride)", hint: "must be at least width*channels = \(rowBytes)")
        }
        guard pixels.count >= stride * (height - 1) + rowBytes else {
            throw ImagingError.invalidArgument(name: "pixel count", value: "\(pixels.count)", hint: "need at least \(stride * (height - 1) + rowBytes) bytes for \(width)x\(height)x\(channels) with stride \(stride)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.stride = stride
        self.pixels = pixels
    }

    /// Byte offset of pixel (x, y), channel 0.
    @inline(__always) public func offset(x: Int, y: Int) -> Int { y * stride + x * channels }

    /// One sample. `x`, `y`, `channel` must be in range (programmer error otherwise).
    public subscript(x: Int, y: Int, channel: Int) -> UInt8 {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0 && channel < channels)
            return pixels[offset(x: x, y: y) + channel]
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0 && channel < channels)
            pixels[offset(x: x, y: y) + channel] = newValue
        }
    }

    /// All channels of pixel (x, y).
    public func pixel(x: Int, y: Int) -> [UInt8] {
        let o = offset(x: x, y: y)
        return Array(pixels[o..<o + channels])
    }

    /// Sets pixel (x, y) from an RGB colour: grey images take its luma
    /// (`round(0.299 r + 0.587 g + 0.114 b)`), RGBA images get alpha 255.
    public mutating func setPixel(x: Int, y: Int, _ colour: RGB) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let o = offset(x: x, y: y)
        switch channels {
        case 1: pixels[o] = colour.luma
        case 3: pixels[o] = colour.r; pixels[o + 1] = colour.g; pixels[o + 2] = colour.b
        default: pixels[o] = colour.r; pixels[o + 1] = colour.g; pixels[o + 2] = colour.b; pixels[o + 3] = 255
        }
    }

    /// Pixel (x, y) as RGB (grey replicated; alpha ignored).
    public func rgb(x: Int, y: Int) -> RGB {
        let o = offset(x: x, y: y)
        if channels == 1 { return RGB(pixels[o], pixels[o], pixels[o]) }
        return RGB(pixels[o], pixels[o + 1], pixels[o + 2])
    }

    public static func == (a: PixelImage, b: PixelImage) -> Bool {
        guard a.width == b.width, a.height == b.height, a.channels == b.channels else { return false }
        let rowBytes = a.width * a.channels
        for y in 0..<a.height where a.pixels[a.stride * y ..< a.stride * y + rowBytes] != b.pixels[b.stride * y ..< b.stride * y + rowBytes] {
            return false
        }
        return true
    }

    /// The same image with rows packed (`stride == width * channels`).
    public func packed() -> PixelImage {
        let rowBytes = width * channels
        if stride == rowBytes && pixels.count == rowBytes * height { return self }
        var out = PixelImage(width: width, height: height, channels: channels)
        for y in 0..<height {
            out.pixels[y * rowBytes ..< (y + 1) * rowBytes] = pixels[y * stride ..< y * stride + rowBytes]
        }
        return out
    }
}

/// An 8-bit sRGB colour.
public struct RGB: Equatable, Hashable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public init(grey: UInt8) { self.init(grey, grey, grey) }
    /// ITU-R BT.601 luma, rounded: `round(0.299 r + 0.587 g + 0.114 b)`.
    public var luma: UInt8 {
        let sum: Int = 299 * Int(r) + 587 * Int(g) + 114 * Int(b)
        return UInt8((sum + 500) / 1000)
    }
    public static let black = RGB(0, 0, 0)
    public static let white = RGB(255, 255, 255)
}

// MARK: - Floats in and out

extension PixelImage {
    /// Converts one generator output image, planar CHW floats (`channels` planes of
    /// `height * width`), to interleaved 8-bit pixels.
    ///
    /// Mapping, for `range = (lo, hi)`: `v = round((x - lo) / (hi - lo) * 255)`, rounding half
    /// away from zero, then clamped to 0...255; NaN maps to 0, +inf to 255, -inf to 0.
    /// For (-1, 1): -1 -> 0, 0 -> 128 (127.5 rounds up), 1 -> 255.
    /// `channels` must be 1 or 3 (a 4-channel output is refused: generators do not make alpha).
    public static func fromFloats(_ values: UnsafeBufferPointer<Float>, channels: Int, height: Int, width: Int,
                                  range: (Float, Float) = (-1, 1)) throws -> PixelImage {
        guard channels == 1 || channels == 3 else {
            throw ImagingError.invalidArgument(name: "channels", value: "\(channels)", hint: "generator output must have 1 (grey) or 3 (RGB) channels")
        }
        guard width > 0, height > 0 else {
            throw ImagingError.invalidArgument(name: "image size", value: "\(width)x\(height)", hint: "width and height must be at least 1")
        }
        guard values.count == channels * height * width else {
            throw ImagingError.invalidArgument(name: "float count", value: "\(values.count)", hint: "expected channels*height*width = \(channels * height * width) (planar CHW)")
        }
        let (lo, hi) = range
        guard lo.isFinite, hi.isFinite, hi > lo else {
            throw ImagingError.invalidArgument(name: "range", value: "(\(lo), \(hi))", hint: "need finite lo < hi, e.g. (-1, 1) for tanh or (0, 1) for sigmoid")
        }
        var image = PixelImage(width: width, height: height, channels: channels)
        let plane = height * width
        let scale = 255 / (hi - lo)
        image.pixels.withUnsafeMutableBufferPointer { out in
            for c in 0..<channels {
                for i in 0..<plane {
                    out[i * channels + c] = byte(values[c * plane + i], lo: lo, scale: scale)
                }
            }
        }
        return image
    }

    /// Array form of `fromFloats(_:channels:height:width:range:)`.
    public static func fromFloats(_ values: [Float], channels: Int, height: Int, width: Int,
                                  range: (Float, Float) = (-1, 1)) throws -> PixelImage {
        try values.withUnsafeBufferPointer {
            try fromFloats($0, channels: channels, height: height, width: width, range: range)
        }
    }

    /// The float -> byte rule of `fromFloats`, for one value.
    @inline(__always) static func byte(_ x: Float, lo: Float, scale: Float) -> UInt8 {
        let v = ((x - lo) * scale).rounded(.toNearestOrAwayFromZero)
        if v >= 255 { return 255 }
        if v > 0 { return UInt8(v) }
        return 0 // negative, -0, -inf and NaN (every comparison with NaN is false)
    }

    /// Planar CHW floats for datasets: `x = lo + v / 255 * (hi - lo)`. RGBA drops alpha.
    /// `fromFloats(toFloats(range: r), range: r)` gives back the same bytes.
    public func toFloats(range: (Float, Float) = (-1, 1)) -> [Float] {
        let (lo, hi) = range
        let outChannels = channels == 4 ? 3 : channels
        let plane = width * height
        var out = [Float](repeating: 0, count: outChannels * plane)
        let scale = (hi - lo) / 255
        for y in 0..<height {
            for x in 0..<width {
                let o = offset(x: x, y: y)
                for c in 0..<outChannels {
                    out[c * plane + y * width + x] = lo + Float(pixels[o + c]) * scale
                }
            }
        }
        return out
    }
}

// MARK: - Channels

extension PixelImage {
    /// Converts between grey (1), RGB (3) and RGBA (4). Grey -> RGB replicates; RGB -> grey uses
    /// BT.601 luma (`RGB.luma`); alpha is composited over `background` when dropped.
    public func converted(toChannels target: Int, background: RGB = .white) -> PixelImage {
        precondition([1, 3, 4].contains(target), "channels must be 1, 3 or 4")
        if target == channels { return self }
        var out = PixelImage(width: width, height: height, channels: target)
        for y in 0..<height {
            for x in 0..<width {
                let o = offset(x: x, y: y)
                var colour: RGB
                switch channels {
                case 1: colour = RGB(grey: pixels[o])
                case 3: colour = RGB(pixels[o], pixels[o + 1], pixels[o + 2])
                default:
                    let a = Int(pixels[o + 3])
                    func mix(_ v: UInt8, _ bg: UInt8) -> UInt8 { UInt8((Int(v) * a + Int(bg) * (255 - a) + 127) / 255) }
                    colour = RGB(mix(pixels[o], background.r), mix(pixels[o + 1], background.g), mix(pixels[o + 2], background.b))
                }
                let p = out.offset(x: x, y: y)
                switch target {
                case 1: out.pixels[p] = colour.luma
                case 3: out.pixels[p] = colour.r; out.pixels[p + 1] = colour.g; out.pixels[p + 2] = colour.b
                default:
                    out.pixels[p] = colour.r; out.pixels[p + 1] = colour.g; out.pixels[p + 2] = colour.b
                    out.pixels[p + 3] = channels == 4 ? pixels[o + 3] : 255
                }
            }
        }
        return out
    }

    /// Drops alpha by compositing over `background` (RGBA -> RGB); other images unchanged.
    public func removingAlpha(over background: RGB = .white) -> PixelImage {
        channels == 4 ? converted(toChannels: 3, background: background) : self
    }

    /// True when every pixel has r == g == b (always true for grey images).
    public var isGrey: Bool {
        if channels == 1 { return true }
        for y in 0..<height {
            for x in 0..<width {
                let o = offset(x: x, y: y)
                if pixels[o] != pixels[o + 1] || pixels[o] != pixels[o + 2] { return false }
            }
        }
        return true
    }
}

// MARK: - Resizing

extension PixelImage {
    /// Integer nearest-neighbour upscaling: every pixel becomes a `factor` x `factor` block.
    public func upscaled(by factor: Int) -> PixelImage {
        precondition(factor >= 1, "upscale factor must be at least 1")
        if factor == 1 { return packed() }
        var out = PixelImage(width: width * factor, height: height * factor, channels: channels)
        let outRow = out.stride
        out.pixels.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { src in
                for y in 0..<height {
                    let base = y * factor * outRow
                    for x in 0..<width {
                        let s = offset(x: x, y: y)
                        for k in 0..<factor {
                            let d = base + (x * factor + k) * channels
                            for c in 0..<channels { dst[d + c] = src[s + c] }
                        }
                    }
                    for k in 1..<factor {
                        for i in 0..<outRow { dst[base + k * outRow + i] = dst[base + i] }
                    }
                }
            }
        }
        return out
    }

    /// Smooth resize, separable per axis: enlarging is bilinear with pixel centres aligned
    /// (`src = (dst + 0.5) * scale - 0.5`, clamped at the edges); shrinking is an exact area
    /// average of the source pixels under each output pixel (no aliasing). Results are rounded
    /// and clamped to 0...255.
    public func resized(width newWidth: Int, height newHeight: Int) -> PixelImage {
        precondition(newWidth > 0 && newHeight > 0, "resize target must be positive")
        if newWidth == width && newHeight == height { return packed() }
        return pixels.withUnsafeBufferPointer {
            Self.resample($0, width: width, height: height, channels: channels, stride: stride,
                          region: (0, 0, width, height), toWidth: newWidth, height: newHeight)
        }
    }

    /// The smooth resize of `resized(width:height:)` applied to the rectangle `region`
    /// (x, y, width, height) of interleaved 8-bit pixels held elsewhere (a decoder's buffer),
    /// so a crop never needs its own copy of the source.
    static func resample(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, channels: Int, stride: Int,
                         region: (x: Int, y: Int, width: Int, height: Int),
                         toWidth newWidth: Int, height newHeight: Int) -> PixelImage {
        precondition(region.x >= 0 && region.y >= 0 && region.width > 0 && region.height > 0
                     && region.x + region.width <= width && region.y + region.height <= height, "region outside the image")
        let horizontal = Self.resampleWeights(from: region.width, to: newWidth)
        let vertical = Self.resampleWeights(from: region.height, to: newHeight)
        // Pass 1: rows, region width -> newWidth, into floats (region height x newWidth x channels).
        var middle = [Float](repeating: 0, count: region.height * newWidth * channels)
        for y in 0..<region.height {
            let row = (region.y + y) * stride + region.x * channels
            for x in 0..<newWidth {
                let (start, weights) = horizontal[x]
                for c in 0..<channels {
                    var sum: Float = 0
                    for (k, w) in weights.enumerated() { sum += w * Float(pixels[row + (start + k) * channels + c]) }
                    middle[(y * newWidth + x) * channels + c] = sum
                }
            }
        }
        // Pass 2: columns, region height -> newHeight.
        var out = PixelImage(width: newWidth, height: newHeight, channels: channels)
        for y in 0..<newHeight {
            let (start, weights) = vertical[y]
            for x in 0..<newWidth {
                for c in 0..<channels {
                    var sum: Float = 0
                    for (k, w) in weights.enumerated() { sum += w * middle[((start + k) * newWidth + x) * channels + c] }
                    out.pixels[out.offset(x: x, y: y) + c] = UInt8(min(255, max(0, sum.rounded())))
                }
            }
        }
        return out
    }

    /// For each output index: first contributing source index and normalised weights.
    /// Shrinking: each source pixel weighs by how much of it lies under the output pixel's
    /// footprint `[i * scale, (i + 1) * scale)` (exact area average). Enlarging: linear
    /// interpolation between the two nearest source centres, edges clamped.
    static func resampleWeights(from source: Int, to target: Int) -> [(Int, [Float])] {
        let scale = Double(source) / Double(target)
        return (0..<target).map { i in
            if scale > 1 {
                let lo = Double(i) * scale, hi = Double(i + 1) * scale
                let first = Int(lo.rounded(.down)), last = min(source - 1, Int(hi.rounded(.up)) - 1)
                let weights = (first...last).map { s in Float(min(hi, Double(s + 1)) - max(lo, Double(s))) }
                let total = weights.reduce(0, +)
                return (first, weights.map { $0 / total })
            }
            let centre = min(max((Double(i) + 0.5) * scale - 0.5, 0), Double(source - 1))
            let first = min(Int(centre.rounded(.down)), source - 1)
            let t = Float(centre - Double(first))
            if first + 1 >= source || t == 0 { return (first, [1]) }
            return (first, [1 - t, t])
        }
    }
}
