import Foundation
import XCTest
import ModelIO
import NN
import Tensor
@testable import Latent

/// SeFa, GANSpace and boundaries against the references Tools/make_direction_fixtures.py
/// computed with numpy and PyTorch (float64: numpy.linalg.eigh, PCA by numpy.linalg.svd,
/// numpy.linalg.lstsq), on the small generators it wrote beside them.
final class DirectionsTests: XCTestCase {
    func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("directions").appendingPathComponent(name)
    }

    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixture(name))) as! [String: Any]
    }

    func rows(_ name: String) throws -> [[Float]] { try LatentIO.readNPY(fixture(name)) }

    func cosine(_ a: [Float], _ b: [Float]) -> Double {
        let ab = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let aa = a.reduce(0.0) { $0 + Double($1) * Double($1) }, bb = b.reduce(0.0) { $0 + Double($1) * Double($1) }
        return ab / (aa * bb).squareRoot()
    }

    /// Eigenvalues within 1e-4 relative, vectors within |cos| >= 0.9999.
    func assertSeFa(model: String, reference: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let loaded = try ModelStore.load(fixture(model))
        let found = try Directions.sefa(loaded.generator, modelName: loaded.manifest.name, prior: .normal)
        let expectedValues = try json("sefa_\(reference).json")["eigenvalues"] as! [Double]
        let expectedVectors = try rows("sefa_\(reference).npy")
        XCTAssertEqual(found.count, expectedValues.count, file: file, line: line)
        for (k, d) in found.enumerated() {
            XCTAssertEqual(d.name, "sefa-\(k)", file: file, line: line)
            let value = d.info.eigenvalue!
            XCTAssertLessThanOrEqual(abs(value - expectedValues[k]), 1e-4 * abs(expectedValues[k]), "eigenvalue \(k)", file: file, line: line)
            XCTAssertGreaterThanOrEqual(abs(cosine(d.vector, expectedVectors[k])), 0.9999, "direction \(k)", file: file, line: line)
            assertClose(cosine(d.vector, d.vector), 1, tolerance: 1e-6)
            XCTAssertEqual(d.info.sigma, 1)
        }
    }

    func testSeFaMatchesNumpyOnTransposedConvolution() throws {
        try assertSeFa(model: "convt", reference: "convt")
    }

    func testSeFaUsesTheLatentRowsOfAConditionalLinearLayer() throws {
        try assertSeFa(model: "linear_cond", reference: "linear_cond")
    }

    func testSeFaRefusesAFirstConvolutionNamingTheLayer() throws {
        let conv = Layer.conv2d(weight: Tensor(shape: [1, 2, 1, 1], data: [1, 2]), bias: nil,
                                geometry: ConvGeometry(inChannels: 2, outChannels: 1, kernel: 1))
        let g = try Generator(latentSize: 8, inputShape: [2, 2, 2], layers: [conv])
        XCTAssertThrowsError(try Directions.sefa(g, modelName: "m", prior: .normal)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("layer 0") && text.contains("conv2d") && text.contains("ganspace"), text)
        }
    }

    func testTopEigenpairsAreTheFullDecompositionsFirst() throws {
        var rng = SplitMix64(seed: 3)
        let n = 12
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0...i { let x = rng.nextNormal(); a[i * n + j] = x; a[j * n + i] = x } }
        let all = try SymmetricEigen.decompose(a, n: n), top = try SymmetricEigen.decompose(a, n: n, top: 3)
        XCTAssertEqual(top.values.count, 3)
        for k in 0..<3 {
            assertClose(top.values[k], all.values[k], tolerance: 1e-10)
            for i in 0..<n { assertClose(top.vectors[k][i], all.vectors[k][i], tolerance: 1e-8) }
        }
    }

    func ganspaceFixture(batchSize: Int) throws -> (LoadedModel, [Float], Directions.GANSpaceRequest) {
        let model = try ModelStore.load(fixture("convt"))
        let latents = try rows("ganspace_latents.npy")
        return (model, latents.flatMap { $0 }, Directions.GANSpaceRequest(samples: latents.count, batchSize: batchSize))
    }

    func testGANSpaceMatchesNumpyPCAAndLeastSquares() throws {
        let (model, flat, request) = try ganspaceFixture(batchSize: 96)    // 11 batches: the moments are streamed
        let z = model.manifest.latentSize
        let reference = try json("ganspace.json")
        let layer = try Directions.ganspaceLayer(model.generator, request, modelName: "convt")
        XCTAssertEqual(layer, reference["layer"] as? Int)
        let cut = try GANSpace.prefix(of: model.generator, through: layer, modelName: "convt")
        let moments = GANSpace.accumulate(prefix: cut, samples: request.samples, batchSize: request.batchSize, labels: nil) {
            Array(flat[($0.lowerBound * z)..<($0.upperBound * z)])
        }
        let found = try GANSpace.components(moments, top: z)
        let axes = try rows("ganspace_components.npy"), directions = try rows("ganspace_directions.npy")
        let ratios = reference["variance_ratios"] as! [Double], sigmas = reference["sigmas"] as! [Double]
        XCTAssertEqual(found.count, axes.count)
        for (k, c) in found.enumerated() {
            let cos = cosine(c.axis, axes[k])
            XCTAssertGreaterThanOrEqual(abs(cos), 0.9999, "component \(k)")
            XCTAssertLessThanOrEqual(abs(c.varianceRatio - ratios[k]), 1e-4 * ratios[k], "variance ratio \(k)")
            let sign: Float = cos < 0 ? -1 : 1                  // a direction follows its component's sign
            assertClose(c.direction.map { $0 * sign }, directions[k], tolerance: 1e-3, "direction \(k)")
            XCTAssertLessThanOrEqual(abs(c.sigma - sigmas[k]), 1e-3, "sigma \(k)")
        }
        // The same through the request API, with names and scores.
        let named = try Directions.ganspace(model.generator, modelName: "convt", request: request) {
            Array(flat[($0.lowerBound * z)..<($0.upperBound * z)])
        }
        XCTAssertEqual(named.map(\.name), (0..<z).map { "ganspace-\($0)" })
        XCTAssertEqual(named[0].info.layer, 2)
        assertClose(named[0].info.varianceRatio!, ratios[0], tolerance: 1e-4 * ratios[0])
    }

    func testGANSpaceDoesNotDependOnTheBatchSize() throws {
        let (model, flat, request) = try ganspaceFixture(batchSize: 1000)
        let z = model.manifest.latentSize
        func run(_ batch: Int) throws -> [DiscoveredDirection] {
            var r = request
            r.batchSize = batch
            return try Directions.ganspace(model.generator, modelName: "convt", request: r) {
                Array(flat[($0.lowerBound * z)..<($0.upperBound * z)])
            }
        }
        let whole = try run(1000), small = try run(7)
        for (a, b) in zip(whole, small) {
            XCTAssertGreaterThanOrEqual(abs(cosine(a.vector, b.vector)), 1 - 1e-9)
            assertClose(a.info.varianceRatio!, b.info.varianceRatio!, tolerance: 1e-9)
        }
    }

    func testGANSpaceRefusesBadSizesBeforeWork() throws {
        let model = try ModelStore.load(fixture("convt"))
        func message(_ request: Directions.GANSpaceRequest) -> String {
            do { _ = try Directions.ganspace(model.generator, modelName: "convt", request: request); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(.init(samples: 1)).contains("--samples 1"))
        XCTAssertTrue(message(.init(samples: GANSpace.maxSamples + 1)).contains("--samples"))
        XCTAssertTrue(message(.init(layer: 5, samples: 10)).contains("layers 0 to 4"))
        // A layer too wide for a D x D covariance is refused with advice.
        let wide = try Generator(latentSize: 2, layers: [.linear(weight: Tensor(zeros: [GANSpace.maxFeatures + 1, 2]), bias: nil),
                                                          .activation(.relu)])
        XCTAssertThrowsError(try Directions.ganspace(wide, modelName: "wide", request: .init(samples: 10))) { error in
            XCTAssertTrue("\(error)".contains("earlier layer"), "\(error)")
        }
    }

    func testBoundaryOfAConstructedExampleIsTheKnownNormal() throws {
        // with = x_i + a n, without = x_i - a n, the x_i centred and orthogonal to n: the
        // least-squares classifier's weight is exactly along n.
        let n: [Float] = [0.6, 0, -0.8, 0]
        let base: [[Float]] = [[0.8, 1, 0.6, 0], [-0.8, -1, -0.6, 0], [0, 2, 0, 1], [0, -2, 0, -1], [0.4, 0, 0.3, 3], [-0.4, 0, -0.3, -3]]
        let with = base.map { x in zip(x, n).map { $0 + 1.5 * $1 } }, without = base.map { x in zip(x, n).map { $0 - 1.5 * $1 } }
        let d = try Directions.boundary(name: "smile", with: with, without: without, prior: .normal)
        assertClose(d.vector, n, tolerance: 1e-6)
        XCTAssertEqual(d.info.accuracy, 1)
        XCTAssertEqual(d.method, .boundary)
        // Swapping the classes flips the normal.
        assertClose(try Boundary.fit(with: without, without: with).normal, n.map { -$0 }, tolerance: 1e-6)
    }

    func testBoundaryMatchesNumpyLeastSquares() throws {
        let r = try json("boundary.json")
        let with = (r["with"] as! [[Double]]).map { $0.map(Float.init) }, without = (r["without"] as! [[Double]]).map { $0.map(Float.init) }
        let fit = try Boundary.fit(with: with, without: without)
        assertClose(fit.normal, (r["normal"] as! [Double]).map(Float.init), tolerance: 1e-5)
        assertClose(fit.offset, r["offset"] as! Double, tolerance: 1e-5)
    }

    func testBoundaryRefusesOneClassAndConditionsOnAnother() throws {
        XCTAssertThrowsError(try Boundary.fit(with: [[1, 2]], without: [])) { XCTAssertTrue("\($0)".contains("both classes")) }
        let with: [[Float]] = [[1, 1, 0], [2, 1, 0.5], [1.5, 2, -0.5]], without: [[Float]] = [[-1, -1, 0], [-2, -1, 0.2], [-1, -2, -0.1]]
        let c: [Float] = [2, 0, 0]                     // normalised before use
        let d = try Directions.boundary(name: "b", with: with, without: without, condition: c, prior: .normal)
        assertClose(d.vector[0], 0, tolerance: 1e-6)
        assertClose(cosine(d.vector, d.vector), 1, tolerance: 1e-6)
    }

    func testPriorSigma() {
        XCTAssertEqual(Directions.priorSigma(.normal, .none), 1)
        assertClose(Directions.priorSigma(.normal, .psi(0.5)), 0.5, tolerance: 1e-12)
        assertClose(Directions.priorSigma(.uniform(low: -1, high: 1), .none), 1 / 3.0.squareRoot(), tolerance: 1e-7)
        // N(0, 1) truncated to [-1, 1] has standard deviation 0.53956 (numerical integration in numpy).
        assertClose(Directions.priorSigma(.normal, .resample(threshold: 1)), 0.53956, tolerance: 1e-5)
    }

    func testDirectionNamesInLibrariesAndExpressions() throws {
        XCTAssertNoThrow(try VectorLibrary.checkName("sefa-0"))
        XCTAssertNoThrow(try VectorLibrary.checkName("ganspace-12"))
        for bad in ["sefa-", "-sefa", "0sefa", "mean", "a b"] { XCTAssertThrowsError(try VectorLibrary.checkName(bad), bad) }
        let e = try LatentExpression.parse("seed:1 + 2*{sefa-3} - smile")
        XCTAssertEqual(e.atoms, [.seed(1), .name("sefa-3"), .name("smile")])
        XCTAssertEqual(try LatentExpression.parse(e.description), e)
        XCTAssertThrowsError(try LatentExpression.parse("seed:1 + {sefa-3"))
        XCTAssertThrowsError(try LatentExpression.parse("seed:1 + {3x}"))
    }

    func testLibraryKeepsDirectionInfo() throws {
        let d = DiscoveredDirection(name: "sefa-0", vector: [0.6, 0.8], method: .sefa, info: .init(rank: 0, eigenvalue: 2.5, sigma: 1))
        var lib = VectorLibrary()
        for (name, entry) in Directions.entries([d], model: "m", modelHash: "abc", sources: ["forger directions m"]) {
            try lib.add(name, entry)
        }
        let back = try VectorLibrary.decode(try lib.encoded())
        XCTAssertEqual(back, lib)
        XCTAssertEqual(back.vectors["sefa-0"]?.direction?.eigenvalue, 2.5)
        // A library without direction info (older files) still reads.
        let old = #"{"format":"forger-vectors","version":1,"vectors":{"v":{"model":"m","modelHash":"h","size":1,"vector":[1],"method":"mean-difference","sources":[]}}}"#
        XCTAssertNil(try VectorLibrary.decode(Data(old.utf8)).vectors["v"]?.direction)
    }
}
