import Foundation

/// A tiny plot renderer (for the training 1-D toy): axes with "nice" ticks and labels, line
/// series, filled histograms, a legend and a title, drawn into an RGB image with `BitmapFont`.
public struct Plot: Sendable {
    public struct Series: Sendable {
        public enum Kind: Sendable {
            /// Points joined in order.
            case line(x: [Double], y: [Double])
            /// Bars between consecutive `edges` (count = edges.count - 1), filled with a light tint.
            case histogram(edges: [Double], counts: [Double])
        }
        public var kind: Kind
        public var colour: RGB
        public var label: String?

        public init(kind: Kind, colour: RGB, label: String? = nil) {
            self.kind = kind; self.colour = colour; self.label = label
        }

        public static func line(x: [Double], y: [Double], colour: RGB, label: String? = nil) -> Series {
            Series(kind: .line(x: x, y: y), colour: colour, label: label)
        }

        /// Bins `values` into `bins` equal bins over `range` (default: the values' extent); with
        /// `density`, counts are divided by (n * bin width) so the bars integrate to 1.
        public static func histogram(values: [Double], bins: Int, range: ClosedRange<Double>? = nil, density: Bool = false,
                                     colour: RGB, label: String? = nil) -> Series {
            precondition(bins >= 1, "a histogram needs at least one bin")
            let finite = values.filter(\.isFinite)
            var lo = range?.lowerBound ?? finite.min() ?? 0, hi = range?.upperBound ?? finite.max() ?? 1
            if hi <= lo { lo -= 0.5; hi += 0.5 }
            let width = (hi - lo) / Double(bins)
            var counts = [Double](repeating: 0, count: bins)
            for v in finite where v >= lo && v <= hi { counts[min(bins - 1, Int((v - lo) / width))] += 1 }
            if density && !finite.isEmpty { counts = counts.map { $0 / (Double(finite.count) * width) } }
            return Series(kind: .histogram(edges: (0...bins).map { lo + Double($0) * width }, counts: counts), colour: colour, label: label)
        }
    }

    public var width: Int
    public var height: Int
    public var title: String?
    public var xLabel: String?
    public var yLabel: String?
    /// Axis ranges; nil fits the data (histograms start at 0), with 5% margin on lines.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var series: [Series]
    public var background: RGB = .white
    public var axisColour: RGB = .black

    public init(width: Int = 480, height: Int = 320, title: String? = nil, series: [Series] = []) {
        self.width = width; self.height = height; self.title = title; self.series = series
    }

    /// The data area in pixels and the data ranges it shows.
    public struct Frame: Equatable, Sendable {
        public var left: Int, top: Int, right: Int, bottom: Int
        public var x: ClosedRange<Double>, y: ClosedRange<Double>
        public func pixelX(_ v: Double) -> Int { left + Int(((v - x.lowerBound) / (x.upperBound - x.lowerBound) * Double(right - left)).rounded()) }
        public func pixelY(_ v: Double) -> Int { bottom - Int(((v - y.lowerBound) / (y.upperBound - y.lowerBound) * Double(bottom - top)).rounded()) }
    }

    public func frame() -> Frame {
        var xs: [Double] = [], ys: [Double] = []
        var hasHistogram = false
        for s in series {
            switch s.kind {
            case let .line(x, y): xs += x.filter(\.isFinite); ys += y.filter(\.isFinite)
            case let .histogram(edges, counts): xs += edges; ys += counts; hasHistogram = true
            }
        }
        func fit(_ values: [Double], zero: Bool) -> ClosedRange<Double> {
            var lo = values.min() ?? 0, hi = values.max() ?? 1
            if zero { lo = min(lo, 0) }
            if hi <= lo { lo -= 1; hi += 1 }
            let margin = (hi - lo) * 0.05
            return (zero && lo == 0 ? 0 : lo - margin)...(hi + margin)
        }
        let xr = xRange ?? fit(xs, zero: false)
        let yr = yRange ?? fit(ys, zero: hasHistogram)
        let text = BitmapFont.glyphHeight
        let yTickWidth = Plot.ticks(yr).map { BitmapFont.width(of: Plot.format($0)) }.max() ?? 0
        let left = 6 + (yLabel == nil ? 0 : text + 4) + yTickWidth + 6
        let top = 6 + (title == nil ? 0 : text + 6)
        let bottom = height - (6 + text + 6 + (xLabel == nil ? 0 : text + 4))
        return Frame(left: left, top: top, right: width - 10, bottom: bottom, x: xr, y: yr)
    }

    public func render() throws -> PixelImage {
        guard width >= 80, height >= 60 else {
            throw ImagingError.invalidArgument(name: "plot size", value: "\(width)x\(height)", hint: "use at least 80x60 pixels")
        }
        let f = frame()
        var image = PixelImage(width: width, height: height, channels: 3)
        fillRect(&image, 0, 0, width, height, background)
        // Histograms first (filled), then lines on top.
        for s in series {
            guard case let .histogram(edges, counts) = s.kind else { continue }
            let tint = RGB(UInt8((Int(s.colour.r) + 2 * 255) / 3), UInt8((Int(s.colour.g) + 2 * 255) / 3), UInt8((Int(s.colour.b) + 2 * 255) / 3))
            for (i, count) in counts.enumerated() where i + 1 < edges.count {
                let x0 = max(f.left, f.pixelX(edges[i])), x1 = min(f.right, f.pixelX(edges[i + 1]))
                let y0 = max(f.top, f.pixelY(count)), y1 = f.bottom
                guard x1 > x0, y1 > y0 else { continue }
                fillRect(&image, x0, y0, x1 - x0, y1 - y0, tint)
                drawLine(&image, x0, y0, x1, y0, s.colour)
                drawLine(&image, x0, y0, x0, y1, s.colour)
                drawLine(&image, x1, y0, x1, y1, s.colour)
            }
        }
        for s in series {
            guard case let .line(x, y) = s.kind else { continue }
            var previous: (Int, Int)?
            for (vx, vy) in zip(x, y) {
                guard vx.isFinite, vy.isFinite else { previous = nil; continue }
                let p = (f.pixelX(vx), f.pixelY(vy))
                if let q = previous { drawLine(&image, q.0, q.1, p.0, p.1, s.colour, clip: f) }
                previous = p
            }
        }
        // Axes, ticks, labels.
        drawLine(&image, f.left, f.bottom, f.right, f.bottom, axisColour)
        drawLine(&image, f.left, f.top, f.left, f.bottom, axisColour)
        let text = BitmapFont.glyphHeight
        for t in Plot.ticks(f.x) {
            let px = f.pixelX(t)
            drawLine(&image, px, f.bottom, px, f.bottom + 3, axisColour)
            let label = Plot.format(t)
            BitmapFont.draw(label, into: &image, x: px - BitmapFont.width(of: label) / 2, y: f.bottom + 6, colour: axisColour)
        }
        for t in Plot.ticks(f.y) {
            let py = f.pixelY(t)
            drawLine(&image, f.left - 3, py, f.left, py, axisColour)
            let label = Plot.format(t)
            BitmapFont.draw(label, into: &image, x: f.left - 6 - BitmapFont.width(of: label), y: py - text / 2, colour: axisColour)
        }
        if let title { BitmapFont.draw(title, into: &image, x: (width - BitmapFont.width(of: title)) / 2, y: 6, colour: axisColour) }
        if let xLabel {
            BitmapFont.draw(xLabel, into: &image, x: (f.left + f.right - BitmapFont.width(of: xLabel)) / 2, y: height - 6 - text, colour: axisColour)
        }
        if let yLabel {
            // Vertical text is not supported by the font: stack the characters.
            let stacked = yLabel.map(String.init).joined(separator: "\n")
            BitmapFont.draw(stacked, into: &image, x: 6, y: max(f.top, (f.top + f.bottom - BitmapFont.height(of: stacked)) / 2), colour: axisColour)
        }
        // Legend, top-right inside the data area: a swatch and the label per labelled series.
        let labelled = series.filter { $0.label != nil }
        if !labelled.isEmpty {
            let boxWidth = 4 + 12 + 4 + (labelled.map { BitmapFont.width(of: $0.label!) }.max() ?? 0) + 4
            let boxHeight = 4 + labelled.count * BitmapFont.lineHeight + 2
            let bx = f.right - boxWidth - 4, by = f.top + 4
            fillRect(&image, bx, by, boxWidth, boxHeight, background)
            strokeRect(&image, bx, by, boxWidth, boxHeight, axisColour)
            for (i, s) in labelled.enumerated() {
                let y = by + 4 + i * BitmapFont.lineHeight
                fillRect(&image, bx + 4, y + 1, 12, 5, s.colour)
                BitmapFont.draw(s.label!, into: &image, x: bx + 20, y: y, colour: axisColour)
            }
        }
        return image
    }

    /// About 5 ticks at 1, 2 or 5 times a power of ten, inside `range`.
    static func ticks(_ range: ClosedRange<Double>) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let raw = span / 5
        let power = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
        var ticks: [Double] = []
        var t = (range.lowerBound / step).rounded(.up) * step
        while t <= range.upperBound + step * 1e-9 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ticks
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        var text = String(format: "%.3g", v)
        if text.hasPrefix("0.") { text.removeFirst() } else if text.hasPrefix("-0.") { text = "-" + text.dropFirst(2) }
        return text
    }

    private func fillRect(_ image: inout PixelImage, _ x: Int, _ y: Int, _ w: Int, _ h: Int, _ colour: RGB) {
        for yy in max(0, y)..<max(max(0, y), min(image.height, y + h)) {
            for xx in max(0, x)..<max(max(0, x), min(image.width, x + w)) { image.setPixel(x: xx, y: yy, colour) }
        }
    }

    private func strokeRect(_ image: inout PixelImage, _ x: Int, _ y: Int, _ w: Int, _ h: Int, _ colour: RGB) {
        drawLine(&image, x, y, x + w - 1, y, colour); drawLine(&image, x, y + h - 1, x + w - 1, y + h - 1, colour)
        drawLine(&image, x, y, x, y + h - 1, colour); drawLine(&image, x + w - 1, y, x + w - 1, y + h - 1, colour)
    }

    /// Bresenham; with `clip`, only pixels inside the data frame are drawn.
    private func drawLine(_ image: inout PixelImage, _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ colour: RGB, clip: Frame? = nil) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var error = dx + dy
        while true {
            if let c = clip {
                if x >= c.left && x <= c.right && y >= c.top && y <= c.bottom { image.setPixel(x: x, y: y, colour) }
            } else {
                image.setPixel(x: x, y: y, colour)
            }
            if x == x1 && y == y1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }
}
