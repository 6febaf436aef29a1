import Imaging

/// Lays cells out in a grid. Until Imaging's captioned grid lands, captions are not drawn.
enum GridRenderer {
    static func render(cells: [PixelImage?], columns: Int, padding: Int, tileLabels: [String]?,
                       rowCaptions: [String]?, columnCaptions: [String]?, title: String) throws -> PixelImage {
        guard let first = cells.compactMap({ $0 }).first else { throw RenderError.badPlan("a frame with no images") }
        let rows = (cells.count + columns - 1) / columns
        let (tw, th) = (first.width, first.height)
        var canvas = PixelImage(width: columns * tw + (columns + 1) * padding, height: rows * th + (rows + 1) * padding,
                                channels: first.channels, fill: 255)
        for (i, cell) in cells.enumerated() {
            guard let cell else { continue }
            let x0 = padding + (i % columns) * (tw + padding), y0 = padding + (i / columns) * (th + padding)
            for y in 0..<th { for x in 0..<tw { for c in 0..<first.channels { canvas[x0 + x, y0 + y, c] = cell[x, y, c] } } }
        }
        return canvas
    }
}
