import Foundation
import Imaging
import Tensor
import Training

/// Exact nearest neighbours in pixel space: the L2 distance between byte images, computed in
/// integers (so ties and equal images are exact), the lowest index winning ties.
public enum NearestNeighbours {
    public struct Match: Equatable, Sendable, Codable {
        /// Index of the nearest reference image.
        public var index: Int
        /// L2 distance with pixels scaled to [0, 1].
        public var distance: Double
    }

    /// For every query image, its nearest image in `references` (same C, H, W).
    public static func search(_ queries: ImageDataset, in references: ImageDataset) throws -> [Match] {
        guard queries.channels == references.channels, queries.height == references.height, queries.width == references.width else {
            throw EvaluationError.shapeMismatch(what: "nearest-neighbour search", expected: "\(references.channels)x\(references.height)x\(references.width) images (the training data)",
                                                actual: "\(queries.channels)x\(queries.height)x\(queries.width)", hint: "compare samples with data of the model's size")
        }
        guard references.count > 0 else {
            throw EvaluationError.tooFewImages(what: "nearest-neighbour references", count: 0, needed: 1, hint: "give training images")
        }
        let d = queries.channels * queries.height * queries.width
        let q = queries.count, n = references.count
        var best = [(Int, Int)](repeating: (Int.max, -1), count: q)     // (squared distance, index)
        let workers = max(1, min(Parallel.workerCount, n))
        var partial = [[(Int, Int)]](repeating: best, count: workers)
        queries.pixels.withUnsafeBufferPointer { qp in references.pixels.withUnsafeBufferPointer { rp in
            partial.withUnsafeMutableBufferPointer { parts in
                let partsBase = parts.baseAddress!
                Parallel.forChunks(n, maxWorkers: workers) { range, worker in
                    var local = [(Int, Int)](repeating: (Int.max, -1), count: q)
                    for r in range {
                        let ref = rp.baseAddress! + r * d
                        for i in 0..<q {
                            let query = qp.baseAddress! + i * d
                            var s = 0
                            for j in 0..<d { let diff = Int(query[j]) - Int(ref[j]); s += diff * diff }
                            if s < local[i].0 { local[i] = (s, r) }
                        }
                    }
                    partsBase[worker] = local
                }
            }
        } }
        for part in partial { for i in 0..<q where part[i].1 >= 0 {
            if part[i].0 < best[i].0 || (part[i].0 == best[i].0 && part[i].1 < best[i].1) { best[i] = part[i] }
        } }
        return best.map { Match(index: $0.1, distance: Double($0.0).squareRoot() / 255) }
    }

    /// A grid of (sample | nearest training image) pairs, `pairsPerRow` pairs per row, each tile
    /// scaled up `zoom` times, the distance written under each training image.
    public static func grid(samples: ImageDataset, references: ImageDataset, matches: [Match],
                            pairsPerRow: Int = 4, zoom: Int = 2) throws -> PixelImage {
        precondition(matches.count == samples.count)
        let rows = (samples.count + pairsPerRow - 1) / pairsPerRow
        var tiles: [PixelImage?] = [], labels: [String?] = []
        for r in 0..<rows { for p in 0..<pairsPerRow {
            let i = r * pairsPerRow + p
            guard i < samples.count else { tiles += [nil, nil]; labels += [nil, nil]; continue }
            tiles.append(image(samples, i, zoom: zoom))
            tiles.append(image(references, matches[i].index, zoom: zoom))
            labels.append("#\(i)")
            labels.append(String(format: "d %.2f", matches[i].distance))
        } }
        var grid = Grid(rows: rows, columns: 2 * pairsPerRow, tiles: tiles)
        grid.tileLabels = labels
        grid.columnCaptions = (0..<(2 * pairsPerRow)).map { $0 % 2 == 0 ? "sample" : "nearest" }
        grid.title = "samples | nearest training image (L2, pixels in [0, 1])"
        do { return try grid.render() } catch {
            throw EvaluationError.cannotWrite(path: "nearest-neighbour grid", reason: "\(error)")
        }
    }

    /// Image `i` of a set as pixels, scaled up by `zoom` (nearest neighbour).
    static func image(_ set: ImageDataset, _ i: Int, zoom: Int) -> PixelImage {
        let (c, h, w) = (set.channels, set.height, set.width)
        var out = PixelImage(width: w * zoom, height: h * zoom, channels: c)
        let base = i * c * h * w
        for ch in 0..<c { for y in 0..<(h * zoom) { for x in 0..<(w * zoom) {
            out[x, y, ch] = set.pixels[base + (ch * h + y / zoom) * w + x / zoom]
        } } }
        return out
    }
}
