import XCTest
@testable import Tensor

/// A test case whose tests run their checks once on each vector path this CPU can execute
/// (AVX-512, AVX2 + FMA, NEON: `FastGemm.vectorPaths`), that path active;
/// a failure also names the path it failed on. Where the CPU has no vector path, the checks run
/// once (and the kernel tests skip).
class VectorPathTestCase: XCTestCase {
    func onEveryPath(_ body: () throws -> Void) rethrows {
        if FastGemm.vectorPaths.isEmpty { return try body() }
        try FastGemm.forEachVectorPath { path in
            let before = testRun?.totalFailureCount ?? 0
            try body()
            if (testRun?.totalFailureCount ?? 0) > before { XCTFail("the failures above are on the \(path.name) path") }
        }
    }
}
