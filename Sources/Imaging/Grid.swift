import Foundation

/// Composes tiles into rows x columns with padding, a background colour, optional labels under
/// tiles, captions left of rows and above columns, and a title, all drawn with `BitmapFont`.
///
/// Geometry (`p` = padding, `t` = text height 7*fontScale, tiles of at most W x H, centred in their cells):
/// - label strip under each tile: `t + p` when any label is given, else 0
/// - row-caption column: widest caption + p when given, else 0; column-caption row: `t + p`; title row: `t + p`
/// - width  = p + rowCaptionColumn + columns * (W + p)
/// - height = p + titleRow + columnCaptionRow + rows * (H + labelStrip + p)
/// Output is RGB: grey tiles are replicated, RGBA tiles composited over the background.
/// Text wider than its cell is clipped at the image border, not wrapped.
public struct Grid: Sendable {
    public var rows: Int
    public var columns: Int
    /// Row-major, `rows * columns` entries; nil leaves a cell empty.
    public var tiles: [PixelImage?]
    public var padding: Int = 4
    public var background: RGB = .white
    public var textColour: RGB = .black
    public var fontScale: Int = 1
    /// Row-major labels drawn centred under each tile (empty: none).
    public var tileLabels: [String?] = []
    /// One caption per row, drawn at the left (empty: none).
    public var rowCaptions: [String] = []
    /// One caption per column, drawn above (empty: none).
    public var columnCaptions: [String] = []
    public var title: String?

    public init(rows: Int, columns: Int, tiles: [PixelImage?]) {
        self.rows = rows
        self.columns = columns
        self.tiles = tiles
    }

    /// Where everything goes; `tileOrigins` is row-major (top-left of each tile as placed).
    public struct Layout: Equatable, Sendable {
        public var width: Int, height: Int
        public var cellWidth: Int, cellHeight: Int
        public var tileOrigins: [Point]
    }

    public struct Point: Equatable, Sendable {
        public var x: Int, y: Int
        public init(x: Int, y: Int) { self.x = x; self.y = y }
    }

    public func layout() throws -> Layout {
        guard rows >= 1, columns >= 1 else {
            throw ImagingError.invalidArgument(name: "grid shape", value: "\(rows)x\(columns)", hint: "rows and columns must be at least 1")
        }
        guard tiles.count == rows * columns else {
            throw ImagingError.invalidArgument(name: "tile count", value: "\(tiles.count)", hint: "a \(rows)x\(columns) grid takes \(rows * columns) tiles (nil for empty cells)")
        }
        guard padding >= 0, fontScale >= 1 else {
            throw ImagingError.invalidArgument(name: "padding/font scale", value: "\(padding)/\(fontScale)", hint: "padding >= 0, font scale >= 1")
        }
        for (name, count, expected) in [("tile labels", tileLabels.count, rows * columns), ("row captions", rowCaptions.count, rows), ("column captions", columnCaptions.count, columns)]
        where count != 0 && count != expected {
            throw ImagingError.invalidArgument(name: name, value: "\(count)", hint: "give none or exactly \(expected)")
        }
        let tileWidth = tiles.compactMap { $0?.width }.max() ?? 1
        let tileHeight = tiles.compactMap { $0?.height }.max() ?? 1
        let text = BitmapFont.glyphHeight * fontScale
        let labelStrip = tileLabels.contains { !($0 ?? "").isEmpty } ? text + padding : 0
        let captionColumn = rowCaptions.isEmpty ? 0 : (rowCaptions.map { BitmapFont.width(of: $0, scale: fontScale) }.max() ?? 0) + padding
        let captionRow = columnCaptions.isEmpty ? 0 : text + padding
        let titleRow = title == nil ? 0 : text + padding
        let cellWidth = tileWidth, cellHeight = tileHeight + labelStrip
        let left = padding + captionColumn, top = padding + titleRow + captionRow
        var origins: [Point] = []
        for r in 0..<rows {
            for c in 0..<columns {
                let tile = tiles[r * columns + c]
                origins.append(Point(x: left + c * (cellWidth + padding) + (tileWidth - (tile?.width ?? tileWidth)) / 2,
                                     y: top + r * (cellHeight + padding) + (tileHeight - (tile?.height ?? tileHeight)) / 2))
            }
        }
        return Layout(width: left + columns * (cellWidth + padding), height: top + rows * (cellHeight + padding),
                      cellWidth: cellWidth, cellHeight: cellHeight, tileOrigins: origins)
    }

    public func render() throws -> PixelImage {
        let layout = try layout()
        var image = PixelImage(width: layout.width, height: layout.height, channels: 3)
        for y in 0..<image.height { for x in 0..<image.width { image.setPixel(x: x, y: y, background) } }
        let text = BitmapFont.glyphHeight * fontScale
        let titleRow = title == nil ? 0 : text + padding
        let captionColumn = rowCaptions.isEmpty ? 0 : (rowCaptions.map { BitmapFont.width(of: $0, scale: fontScale) }.max() ?? 0) + padding
        let tileHeight = tiles.compactMap { $0?.height }.max() ?? 1
        if let title {
            BitmapFont.draw(title, into: &image, x: (layout.width - BitmapFont.width(of: title, scale: fontScale)) / 2, y: padding, colour: textColour, scale: fontScale)
        }
        for c in 0..<columns where !columnCaptions.isEmpty {
            let x = padding + captionColumn + c * (layout.cellWidth + padding) + (layout.cellWidth - BitmapFont.width(of: columnCaptions[c], scale: fontScale)) / 2
            BitmapFont.draw(columnCaptions[c], into: &image, x: x, y: padding + titleRow, colour: textColour, scale: fontScale)
        }
        let top = padding + titleRow + (columnCaptions.isEmpty ? 0 : text + padding)
        for r in 0..<rows {
            let rowTop = top + r * (layout.cellHeight + padding)
            if !rowCaptions.isEmpty {
                BitmapFont.draw(rowCaptions[r], into: &image, x: padding, y: rowTop + (tileHeight - text) / 2, colour: textColour, scale: fontScale)
            }
            for c in 0..<columns {
                let index = r * columns + c
                if let tile = tiles[index] {
                    let origin = layout.tileOrigins[index]
                    let rgb = tile.channels == 3 ? tile : tile.converted(toChannels: 3, background: background)
                    for y in 0..<rgb.height {
                        let src = y * rgb.stride, dst = image.offset(x: origin.x, y: origin.y + y)
                        image.pixels[dst ..< dst + rgb.width * 3] = rgb.pixels[src ..< src + rgb.width * 3]
                    }
                }
                if index < tileLabels.count, let label = tileLabels[index], !label.isEmpty {
                    let x = padding + captionColumn + c * (layout.cellWidth + padding) + (layout.cellWidth - BitmapFont.width(of: label, scale: fontScale)) / 2
                    BitmapFont.draw(label, into: &image, x: x, y: rowTop + tileHeight + padding, colour: textColour, scale: fontScale)
                }
            }
        }
        return image
    }
}
