import XCTest
@testable import Imaging

final class BitmapFontTests: XCTestCase {
    func render(_ text: String, scale: Int = 1) -> PixelImage {
        var image = PixelImage(width: max(1, BitmapFont.width(of: text, scale: scale)), height: BitmapFont.height(of: text, scale: scale), channels: 1)
        BitmapFont.draw(text, into: &image, x: 0, y: 0, colour: .white, scale: scale)
        return image
    }

    func testGlyphsAreDistinctAndInked() {
        let printable = (32...126).map { Character(UnicodeScalar(UInt8($0))) }
        let glyphs = printable.map { BitmapFont.glyph($0) }
        XCTAssertEqual(Set(glyphs.map { $0.map(String.init).joined(separator: ",") }).count, 95, "every glyph differs")
        for (c, g) in zip(printable.dropFirst(), glyphs.dropFirst()) { XCTAssertTrue(g.contains { $0 != 0 }, "'\(c)' has ink") }
        XCTAssertNotEqual(render("A").pixels, render("B").pixels)
        // 'A': apex at the top centre, crossbar on row 3, open at the bottom centre.
        let a = render("A")
        XCTAssertEqual(a[2, 0, 0], 255); XCTAssertEqual(a[0, 0, 0], 0)
        XCTAssertEqual((0..<5).map { a[$0, 3, 0] }, [255, 255, 255, 255, 255])
        XCTAssertEqual(a[2, 6, 0], 0)
        XCTAssertEqual(BitmapFont.glyph("\u{7}"), BitmapFont.glyph("?"))
    }

    func testStringSizeAndScaling() {
        XCTAssertEqual(BitmapFont.width(of: "abc"), 17) // 3 * 6 - 1
        XCTAssertEqual(BitmapFont.width(of: "abc", scale: 3), 51)
        XCTAssertEqual(BitmapFont.height(of: "a\nb"), 16) // 2 * 9 - 2
        // Scaling by 2 is the 1x rendering upscaled by 2.
        XCTAssertEqual(render("Hi!", scale: 2), render("Hi!").upscaled(by: 2))
        // Ink count scales with the square of the scale.
        let ink1 = render("Forger").pixels.filter { $0 != 0 }.count
        XCTAssertEqual(render("Forger", scale: 3).pixels.filter { $0 != 0 }.count, 9 * ink1)
    }
}

final class GridTests: XCTestCase {
    func testGeometryWithoutText() throws {
        let tile = PixelImage(width: 10, height: 8, channels: 3, fill: 50)
        var grid = Grid(rows: 2, columns: 3, tiles: Array(repeating: tile, count: 6))
        grid.padding = 2
        let layout = try grid.layout()
        XCTAssertEqual(layout.width, 2 + 3 * (10 + 2))   // 38
        XCTAssertEqual(layout.height, 2 + 2 * (8 + 2))   // 22
        XCTAssertEqual(layout.tileOrigins[4], Grid.Point(x: 2 + 12, y: 2 + 10))
        let image = try grid.render()
        XCTAssertEqual(image.width, 38); XCTAssertEqual(image.height, 22)
        XCTAssertEqual(image.rgb(x: 14, y: 12), RGB(50, 50, 50))   // inside tile 4
        XCTAssertEqual(image.rgb(x: 13, y: 12), .white)            // padding between tiles
    }

    func testGeometryWithCaptionsLabelsAndTitle() throws {
        let tile = PixelImage(width: 16, height: 16, channels: 1, fill: 0)
        var grid = Grid(rows: 2, columns: 2, tiles: [tile, tile, nil, tile])
        grid.padding = 3
        grid.fontScale = 2
        grid.rowCaptions = ["z=1", "z=22"]
        grid.columnCaptions = ["a", "b"]
        grid.tileLabels = ["0", "1", nil, "3"]
        grid.title = "T"
        let layout = try grid.layout()
        let text = 14 // 7 * scale 2
        let captionColumn = BitmapFont.width(of: "z=22", scale: 2) + 3 // 46 + 3
        XCTAssertEqual(layout.width, 3 + captionColumn + 2 * (16 + 3))
        XCTAssertEqual(layout.height, 3 + (text + 3) + (text + 3) + 2 * (16 + text + 3 + 3))
        let image = try grid.render()
        XCTAssertEqual(image.width, layout.width)
        XCTAssertEqual(image.height, layout.height)
        // Captions drew ink (black) in the caption column, and the empty cell stayed background.
        let captionInk = (0..<image.height).contains { y in (0..<captionColumn).contains { image.rgb(x: $0, y: y) == .black } }
        XCTAssertTrue(captionInk)
        let empty = layout.tileOrigins[2]
        XCTAssertEqual(image.rgb(x: empty.x + 8, y: empty.y + 8), .white)
        XCTAssertEqual(image.rgb(x: layout.tileOrigins[3].x + 8, y: layout.tileOrigins[3].y + 8), .black)
    }

    func testBadShapesThrow() {
        XCTAssertThrowsError(try Grid(rows: 2, columns: 2, tiles: [nil]).layout())
        var grid = Grid(rows: 1, columns: 2, tiles: [nil, nil])
        grid.rowCaptions = ["a", "b"]
        XCTAssertThrowsError(try grid.layout())
    }
}

final class PlotTests: XCTestCase {
    func testLineHistogramLegendAndAxes() throws {
        let red = RGB(220, 30, 30), blue = RGB(30, 60, 220)
        let xs = stride(from: -3.0, through: 3.0, by: 0.05).map { $0 }
        var plot = Plot(width: 320, height: 200, title: "toy")
        plot.xLabel = "x"
        plot.series = [
            .histogram(values: [-1, -0.5, 0, 0, 0.2, 0.5, 1, 1.5], bins: 6, range: -3...3, colour: blue, label: "samples"),
            .line(x: xs, y: xs.map { exp(-$0 * $0 / 2) * 2 }, colour: red, label: "target"),
        ]
        let image = try plot.render()
        XCTAssertEqual(image.width, 320); XCTAssertEqual(image.height, 200)
        let f = plot.frame()
        XCTAssertEqual(f.y.lowerBound, 0) // histograms start at zero
        // The line passes through its peak (0, 2).
        let peak = (f.pixelX(0), f.pixelY(2))
        let nearPeak = (-1...1).contains { dx in (-1...1).contains { dy in image.rgb(x: peak.0 + dx, y: peak.1 + dy) == red } }
        XCTAssertTrue(nearPeak, "line colour at the peak")
        // The bin [0, 1) holds 4 values: its interior is the light tint of blue.
        let tint = RGB(180, 190, 243) // (c + 2 * 255) / 3 per channel
        XCTAssertEqual(image.rgb(x: f.pixelX(0.5), y: f.pixelY(1)), tint)
        // Axes are drawn along the frame's left and bottom edges.
        XCTAssertEqual(image.rgb(x: f.left, y: (f.top + f.bottom) / 2), .black)
        XCTAssertEqual(image.rgb(x: (f.left + f.right) / 2, y: f.bottom), .black)
        // The legend swatches are there.
        XCTAssertTrue(image.pixels.count > 0)
        let swatches = Set((f.top..<f.top + 40).flatMap { y in (f.right - 120..<f.right).map { image.rgb(x: $0, y: y) } })
        XCTAssertTrue(swatches.contains(red) && swatches.contains(blue))
    }

    func testNiceTicks() {
        XCTAssertEqual(Plot.ticks(0...10), [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(Plot.ticks(-0.3...0.3), [-0.2, 0, 0.2]) // span 0.6 / 5 = 0.12 -> step 0.2
        let unit = Plot.ticks(0...1)
        XCTAssertEqual(unit.count, 6)
        for (t, want) in zip(unit, [0, 0.2, 0.4, 0.6, 0.8, 1.0]) { XCTAssertEqual(t, want, accuracy: 1e-9) }
        XCTAssertEqual(Plot.format(0.25), ".25")
        XCTAssertEqual(Plot.format(-3), "-3")
    }
}
