import XCTest
import Foundation
import Tensor
import ModelIO
@testable import Training

/// A layer key left out must mean the same in model.json and in a training architecture.
final class LayerDefaultsTests: XCTestCase {
    func testLeakyReLUWithoutSlopeIsPyTorchsDefaultInBothFiles() throws {
        let manifest = """
        {"format": "forger-model", "version": 1, "name": "m", "latent": {"size": 2},
         "output": {"channels": 1, "height": 1, "width": 2, "range": [0, 1]},
         "layers": [{"type": "linear", "in": 2, "out": 2, "weight": "w"}, {"type": "leakyrelu"},
                    {"type": "batchnorm", "features": 2, "running_mean": "m", "running_var": "v"}]}
        """
        let m = try ModelManifest.parse(Data(manifest.utf8), path: "model.json")
        XCTAssertEqual(m.layers[1], .activation(.leakyReLU(slope: 0.01)))
        guard case .batchNorm(_, let eps, _, _, _, _) = m.layers[2] else { return XCTFail("\(m.layers[2])") }
        XCTAssertEqual(eps, 1e-5)

        let architecture = """
        {"latent_size": 2, "generator": [{"type": "linear", "out": 2}, {"type": "leakyrelu"}, {"type": "batchnorm"}],
         "discriminator": [{"type": "linear", "out": 1}, {"type": "dropout"}]}
        """
        let a = try GANArchitecture.parse(Data(architecture.utf8), path: "a.json")
        XCTAssertEqual(a.generator[1], .activation(.leakyReLU(slope: 0.01)))
        XCTAssertEqual(a.generator[2], .batchNorm(eps: 1e-5, momentum: 0.1))
        XCTAssertEqual(a.discriminator[1], .dropout(rate: 0.5))
    }

    func testExplicitSlopeIsKeptAndUnknownTypesRefused() throws {
        let architecture = """
        {"latent_size": 2, "generator": [{"type": "leakyrelu", "slope": 0.2}], "discriminator": [{"type": "gelu"}]}
        """
        XCTAssertThrowsError(try GANArchitecture.parse(Data(architecture.utf8), path: "a.json")) {
            XCTAssertTrue("\($0)".contains("unknown type \"gelu\""), "\($0)")
        }
        let ok = try GANArchitecture.parse(Data(architecture.replacingOccurrences(of: "gelu", with: "tanh").utf8), path: "a.json")
        XCTAssertEqual(ok.generator[0], .activation(.leakyReLU(slope: 0.2)))
    }
}
