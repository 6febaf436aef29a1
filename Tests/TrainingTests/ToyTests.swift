import XCTest
import Imaging
import Tensor
@testable import Training

/// The 1-D toy: same seed, same frames; G's samples move toward the target mean.
final class ToyTests: XCTestCase {
    func smallToy(seed: UInt64) -> ToyGAN {
        var toy = ToyGAN()
        toy.epochs = 40; toy.discriminatorSteps = 5; toy.batchSize = 50; toy.frameEvery = 20; toy.seed = seed
        return toy
    }

    func testToyIsDeterministicAndRendersFrames() throws {
        var a: [PixelImage] = [], b: [PixelImage] = [], c: [PixelImage] = []
        _ = try smallToy(seed: 3).run { a.append($0.image) }
        _ = try smallToy(seed: 3).run { b.append($0.image) }
        _ = try smallToy(seed: 4).run { c.append($0.image) }
        XCTAssertEqual(a.count, 3, "epochs 0, 20, 40")
        XCTAssertEqual(a, b, "same seed, same frames")
        XCTAssertNotEqual(a.last, c.last, "another seed, another run")
        // The plot has the three colours: target (blue), histogram (red), D(x) (green).
        let frame = try XCTUnwrap(a.last)
        var colours = Set<RGB>()
        for y in 0..<frame.height { for x in 0..<frame.width { colours.insert(frame.rgb(x: x, y: y)) } }
        for c in [RGB(40, 80, 230), RGB(230, 80, 80), RGB(30, 160, 60)] { XCTAssertTrue(colours.contains(c), "missing \(c)") }
    }

    func testGeneratorMovesTowardTheTarget() throws {
        var toy = smallToy(seed: 1)
        toy.epochs = 120
        let untrained = try toy.makeTrainer().samples().data
        let trained = try toy.run { _ in }.samples().data
        func meanDistance(_ v: [Float]) -> Float { abs(v.reduce(0, +) / Float(v.count) - toy.mean) }
        XCTAssertLessThan(meanDistance(trained), meanDistance(untrained) * 0.5,
                          "G's mean should close in on -2: before \(meanDistance(untrained)), after \(meanDistance(trained))")
    }
}
