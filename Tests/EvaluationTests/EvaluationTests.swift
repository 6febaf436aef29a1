import XCTest
import Foundation
@testable import Evaluation
import Tensor
import Training

/// Loads a fixture written by Tools/make_evaluation_fixtures.py.
func fixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                            "missing fixture \(name).json; run python3 Tools/make_evaluation_fixtures.py")
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

func assertClose(_ a: Double, _ b: Double, relative: Double, absolute: Double = 0, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertLessThanOrEqual(abs(a - b), max(absolute, relative * abs(b)), "\(what): \(a) vs expected \(b)", file: file, line: line)
}

final class FrechetTests: XCTestCase {
    struct Case: Decodable {
        let name: String, features: Int
        let a: [Float], b: [Float], mean_a: [Double]
        let cov_a_trace: Double, cov_a_01: Double, distance: Double, self_distance: Double
    }
    struct File: Decodable { let producer: String; let cases: [Case] }

    /// Expected values: pytorch-fid's calculate_frechet_distance (numpy, scipy.linalg.sqrtm).
    func testMatchesPytorchFIDReference() throws {
        let file = try fixture("frechet", as: File.self)
        XCTAssertEqual(file.cases.count, 3)
        for c in file.cases {
            let f = c.features
            let a = FeatureStatistics(features: Tensor(shape: [c.a.count / f, f], data: c.a))
            let b = FeatureStatistics(features: Tensor(shape: [c.b.count / f, f], data: c.b))
            for j in 0..<f { assertClose(a.mean[j], c.mean_a[j], relative: 1e-12, absolute: 1e-12, "\(c.name) mean[\(j)]") }
            assertClose((0..<f).reduce(0) { $0 + a.covariance[$1][$1] }, c.cov_a_trace, relative: 1e-12, "\(c.name) trace")
            assertClose(a.covariance[0][1], c.cov_a_01, relative: 1e-10, absolute: 1e-12, "\(c.name) cov[0][1]")
            // scipy's sqrtm (Schur) and our eigen route agree to ~1e-9 on these well-conditioned sets.
            assertClose(FrechetDistance.distance(a, b), c.distance, relative: 1e-7, absolute: 1e-8, "\(c.name) distance")
            assertClose(FrechetDistance.distance(a, a), 0, relative: 0, absolute: 1e-9, "\(c.name) self distance")
            assertClose(FrechetDistance.distance(b, a), c.distance, relative: 1e-7, absolute: 1e-8, "\(c.name) symmetric")
        }
    }

    /// Two Gaussians in closed form: identical covariances leave |m1 - m2|^2; diagonal ones
    /// give sum (s1 - s2)^2 per dimension for the standard deviations s.
    func testClosedForms() {
        let a = FeatureStatistics(count: 2, mean: [0, 0], covariance: [[4, 0], [0, 1]])
        let b = FeatureStatistics(count: 2, mean: [3, 4], covariance: [[4, 0], [0, 1]])
        assertClose(FrechetDistance.distance(a, b), 25, relative: 1e-12, "shifted means")
        let c = FeatureStatistics(count: 2, mean: [0, 0], covariance: [[1, 0], [0, 9]])
        assertClose(FrechetDistance.distance(a, c), (2.0 - 1) * (2 - 1) + (1.0 - 3) * (1 - 3), relative: 1e-12, "diagonal")
        // A singular covariance (rank 1) still gives a finite, non-negative distance.
        let d = FeatureStatistics(count: 2, mean: [0, 0], covariance: [[1, 1], [1, 1]])
        assertClose(FrechetDistance.distance(d, d), 0, relative: 0, absolute: 1e-9, "singular self")
    }
}

final class SWDTests: XCTestCase {
    struct File: Decodable {
        let images: [Int], image_shape: [Int]
        let pyramid: [[Float]], pyramid_shapes: [[Int]]
        let raw_descriptors: [Float], raw_shape: [Int], normalised: [Float]
        let a: [Float], b: [Float], rows: Int, width: Int
        let directions: [Float], direction_count: Int
        let sliced_distance: Double
    }

    /// Expected values: Karras et al.'s generate_laplacian_pyramid (scipy.ndimage, mode='mirror').
    func testLaplacianPyramidMatchesReference() throws {
        let f = try fixture("swd", as: File.self)
        let (n, c, h, w) = (f.image_shape[0], f.image_shape[1], f.image_shape[2], f.image_shape[3])
        for i in 0..<n {
            let image = (0..<(c * h * w)).map { Float(f.images[i * c * h * w + $0]) }
            let pyramid = SlicedWasserstein.laplacianPyramid(image, channels: c, height: h, width: w, levels: 2)
            XCTAssertEqual(pyramid.count, f.pyramid.count)
            for (l, level) in pyramid.enumerated() {
                let shape = f.pyramid_shapes[l]
                XCTAssertEqual([level.channels, level.height, level.width], Array(shape.dropFirst()))
                let per = level.values.count
                var worst: Float = 0
                for j in 0..<per { worst = max(worst, abs(level.values[j] - f.pyramid[l][i * per + j])) }
                XCTAssertLessThan(worst, 1e-3, "image \(i) level \(l): max difference \(worst) (values 0...255)")
            }
        }
    }

    /// Expected values: finalize_descriptors (per-channel mean and population std).
    func testNormalisationMatchesReference() throws {
        let f = try fixture("swd", as: File.self)
        let width = f.raw_shape.dropFirst().reduce(1, *)
        var m = SlicedWasserstein.Matrix(rows: f.raw_shape[0], width: width, values: f.raw_descriptors)
        SlicedWasserstein.normalisePerChannel(&m, channels: f.raw_shape[1])
        for j in 0..<m.values.count { XCTAssertEqual(m.values[j], f.normalised[j], accuracy: 1e-4, "element \(j)") }
    }

    /// Expected value: sliced_wasserstein with the same directions (one repeat).
    func testSlicedDistanceMatchesReference() throws {
        let f = try fixture("swd", as: File.self)
        let a = SlicedWasserstein.Matrix(rows: f.rows, width: f.width, values: f.a)
        let b = SlicedWasserstein.Matrix(rows: f.rows, width: f.width, values: f.b)
        let d = SlicedWasserstein.Matrix(rows: f.direction_count, width: f.width, values: f.directions)
        assertClose(SlicedWasserstein.slicedDistance(a, b, directions: d), f.sliced_distance, relative: 1e-5, "sliced distance")
        XCTAssertEqual(SlicedWasserstein.slicedDistance(a, a, directions: d), 0)
    }

    /// Seeded blobs on a dark background, 32x32, so the pyramid has two levels (32, 16).
    func blobs(count: Int, seed: UInt64, brightness: Int = 200, radius: Double = 6) -> ImageDataset {
        var rng = RandomStream(seed: seed)
        var pixels = [UInt8](repeating: 0, count: count * 32 * 32)
        for i in 0..<count {
            let cx = 10 + rng.nextUnit() * 12, cy = 10 + rng.nextUnit() * 12
            for y in 0..<32 { for x in 0..<32 {
                let r = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                let noise = Int(rng.nextIndex(20))
                pixels[i * 1024 + y * 32 + x] = UInt8(min(255, (r < radius ? brightness : 20) + noise))
            } }
        }
        return ImageDataset(channels: 1, height: 32, width: 32, pixels: pixels, source: "blobs \(seed)")
    }

    func testPropertiesIdenticalShiftedDeterministic() throws {
        var swd = SlicedWasserstein()
        swd.descriptorsPerImage = 32
        swd.directionsPerRepeat = 32
        let a = blobs(count: 12, seed: 1), a2 = blobs(count: 12, seed: 2)
        // SWD normalises each set by its own statistics, so brightness alone does not count:
        // the other set differs in structure (pin-point dots instead of discs).
        let sharp = blobs(count: 12, seed: 3, brightness: 120, radius: 1)
        XCTAssertEqual(swd.levelSizes(for: 32), [32, 16])
        let same = try swd.distance(a, a, seed: 7)
        let similar = try swd.distance(a, a2, seed: 7)
        let different = try swd.distance(a, sharp, seed: 7)
        XCTAssertEqual(same.levels.map(\.resolution), [32, 16])
        print("SWD x1e3 same \(same.average), similar \(similar.average), different \(different.average)")
        // Both sets are sampled at the same positions, so identical sets are at distance 0.
        XCTAssertEqual(same.average, 0, accuracy: 1e-9)
        XCTAssertGreaterThan(similar.average, 0)
        XCTAssertGreaterThan(different.average, 2 * similar.average, "dots must be farther from discs than other discs are")
        XCTAssertEqual(try swd.distance(a, sharp, seed: 7), different, "same seed, same result")
        XCTAssertNotEqual(try swd.distance(a, sharp, seed: 8).average, different.average)
        XCTAssertThrowsError(try swd.distance(a, blobs(count: 11, seed: 1), seed: 0))
    }
}

final class NearestNeighbourTests: XCTestCase {
    func testExactOnConstructedData() throws {
        // References: 2x2 grey images with one bright pixel at each position, and a dark one.
        var refPixels: [UInt8] = []
        for p in 0..<4 { var img = [UInt8](repeating: 0, count: 4); img[p] = 200; refPixels += img }
        refPixels += [0, 0, 0, 0]
        let refs = ImageDataset(channels: 1, height: 2, width: 2, pixels: refPixels, source: "refs")
        // Queries: near position 2; exactly reference 1; all 10 (closest to the dark one).
        let queries = ImageDataset(channels: 1, height: 2, width: 2, pixels: [0, 0, 190, 5, 0, 200, 0, 0, 10, 10, 10, 10], source: "queries")
        let m = try NearestNeighbours.search(queries, in: refs)
        XCTAssertEqual(m.map(\.index), [2, 1, 4])
        XCTAssertEqual(m[0].distance, (100.0 + 25).squareRoot() / 255, accuracy: 1e-12)
        XCTAssertEqual(m[1].distance, 0)
        XCTAssertEqual(m[2].distance, 20.0 / 255, accuracy: 1e-12)
        // Ties go to the lowest index.
        let tie = ImageDataset(channels: 1, height: 2, width: 2, pixels: [100, 0, 0, 100], source: "tie")
        XCTAssertEqual(try NearestNeighbours.search(tie, in: refs)[0].index, 0)
        XCTAssertThrowsError(try NearestNeighbours.search(ImageDataset(channels: 1, height: 1, width: 4, pixels: [0, 0, 0, 0], source: "x"), in: refs))
        let grid = try NearestNeighbours.grid(samples: queries, references: refs, matches: m, pairsPerRow: 2, zoom: 3)
        XCTAssertGreaterThan(grid.width, 4 * 6)
    }
}

final class CrossEntropyTests: XCTestCase {
    /// Central differences in Double on the Float loss; no kinks (softmax is smooth).
    func testGradientMatchesFiniteDifferences() {
        let logits = Tensor(shape: [3, 4], data: (0..<12).map { Float($0 % 5) * 0.7 - 1.2 })
        let labels = [2, 0, 3]
        let (_, grad) = SoftmaxCrossEntropy.loss(logits: logits, labels: labels)
        let h: Float = 1e-2
        for i in 0..<logits.count {
            var plus = logits, minus = logits
            plus.data[i] += h; minus.data[i] -= h
            let numeric = (SoftmaxCrossEntropy.loss(logits: plus, labels: labels).loss - SoftmaxCrossEntropy.loss(logits: minus, labels: labels).loss) / (2 * h)
            XCTAssertEqual(grad.data[i], numeric, accuracy: 2e-4, "d loss / d logit \(i)")
        }
    }

    /// Reference: torch.nn.functional.cross_entropy([[1, 2, 3], [1000, 0, -1000]], [0, 0]) =
    /// (2.4076059644 + 0) / 2; large logits stay finite.
    func testValueAndStability() {
        let logits = Tensor(shape: [2, 3], data: [1, 2, 3, 1000, 0, -1000])
        let (loss, grad) = SoftmaxCrossEntropy.loss(logits: logits, labels: [0, 0])
        XCTAssertEqual(loss, 2.4076059644 / 2, accuracy: 1e-5)
        XCTAssertTrue(grad.isFinite)
        let p = SoftmaxCrossEntropy.softmax(logits)
        XCTAssertEqual(p.data[0] + p.data[1] + p.data[2], 1, accuracy: 1e-6)
    }
}
