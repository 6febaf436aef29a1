import XCTest
@testable import Training

extension XCTestCase {
    /// Every value a trainer carries from step to step: both networks' parameters (class
    /// embeddings included) and buffers, and both optimisers' state.
    func allValues(_ t: GANTrainer) -> [Float] {
        (t.generatorParameters + t.generator.namedBuffers + t.discriminatorParameters + t.discriminator.namedBuffers)
            .flatMap { $0.parameter.value.data }
            + t.generatorOptimizer.state.flatMap { $0.flatMap(\.data) } + t.discriminatorOptimizer.state.flatMap { $0.flatMap(\.data) }
    }

    /// Loads `checkpoint` (written at step 3) into `resumed`, trains it on to step 6 and asserts
    /// that it then holds `straight`'s values (trained 6 steps without a stop) bit for bit.
    func assertResumesExactly(_ resumed: GANTrainer, from checkpoint: URL, as straight: GANTrainer, _ label: String,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        try resumed.loadCheckpoint(from: checkpoint)
        XCTAssertEqual(resumed.step, 3, label, file: file, line: line)
        try TrainingRun(totalSteps: 6).run(resumed, reporter: SilentReporter())
        let a = allValues(straight), b = allValues(resumed)
        XCTAssertEqual(a.count, b.count, label, file: file, line: line)
        XCTAssertTrue(a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }, "\(label): resumed weights differ", file: file, line: line)
    }
}
