import Imaging

/// Lays one frame's cells out with Imaging's captioned grid. Grey models stay grey (the grid
/// draws in RGB; grey content converts back exactly), so their GIFs keep the exact grey palette.
enum GridRenderer {
    static func render(cells: [PixelImage?], columns: Int, padding: Int, tileLabels: [String]?,
                       rowCaptions: [String]?, columnCaptions: [String]?, title: String) throws -> PixelImage {
        let rows = (cells.count + columns - 1) / columns
        let filled = cells + [PixelImage?](repeating: nil, count: rows * columns - cells.count)
        let bare = tileLabels == nil && rowCaptions == nil && columnCaptions == nil && title.isEmpty
        if bare, padding == 0, cells.count == 1, let only = cells[0] { return only }
        var grid = Grid(rows: rows, columns: columns, tiles: filled)
        grid.padding = padding
        let tileHeight = cells.compactMap { $0?.height }.max() ?? 0
        grid.fontScale = tileHeight >= 160 ? 2 : 1
        if let tileLabels { grid.tileLabels = tileLabels + [String?](repeating: nil, count: filled.count - tileLabels.count) }
        grid.rowCaptions = rowCaptions ?? []
        grid.columnCaptions = columnCaptions ?? []
        grid.title = title.isEmpty ? nil : title
        let image = try grid.render()
        let grey = cells.compactMap { $0 }.allSatisfy { $0.channels == 1 }
        return grey ? image.converted(toChannels: 1) : image
    }
}
