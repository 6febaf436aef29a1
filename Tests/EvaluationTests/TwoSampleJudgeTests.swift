import XCTest
@testable import Evaluation
import Training

/// The real-vs-generated judge: near chance when both sets come from one distribution, near
/// perfect when the "generated" set is visibly different, and refused with too few images.
final class TwoSampleJudgeTests: XCTestCase {
    let settings = TwoSampleJudge.Settings(trainImages: 400, testImages: 200, epochs: 2, seed: 0)

    func testSameDistributionIsNearChance() throws {
        let r = try TwoSampleJudge.run(real: shapes(count: 600, seed: 11), generated: shapes(count: 600, seed: 12), settings: settings)
        XCTAssertEqual(r.accuracy, 0.5, accuracy: 0.1, "two draws of the same shapes: \(r)")
        XCTAssertEqual(r.accuracy, (r.realAccuracy + r.generatedAccuracy) / 2, accuracy: 1e-12)
    }

    func testDifferentDistributionIsCaught() throws {
        // The same shapes, but blurred into a flat grey wash: what a poor generator draws.
        let real = shapes(count: 600, seed: 11)
        var washed = shapes(count: 600, seed: 12)
        washed.pixels = washed.pixels.map { UInt8(60 + Int($0) / 4) }
        let r = try TwoSampleJudge.run(real: real, generated: washed, settings: settings)
        XCTAssertGreaterThan(r.accuracy, 0.95, "\(r)")
        XCTAssertEqual(r.testImages, 200)
    }

    func testTooFewImagesIsRefused() {
        XCTAssertThrowsError(try TwoSampleJudge.run(real: shapes(count: 500, seed: 1), generated: shapes(count: 600, seed: 2), settings: settings)) {
            XCTAssertTrue("\($0)".contains("--two-sample") && "\($0)".contains("600"), "\($0)")
        }
    }

    func testNetworkFitsEachSize() throws {
        for shape in [[1, 16, 16], [1, 28, 28], [3, 64, 64]] {
            let c = try Classifier(manifest: TwoSampleJudge.manifest(shape: shape), seed: 0)
            XCTAssertEqual(c.network.outputShape, [2], "\(shape)")
        }
    }
}
