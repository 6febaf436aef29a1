import XCTest
import Tensor
import Training
@testable import Benchmarks

/// The benchmark's training pair and real batch match what Tools/bench_models.py and
/// Tools/bench_peers.py build in PyTorch.
final class TrainingBenchmarkTests: XCTestCase {
    func testNetworksHaveThePeersShapesAndSizes() throws {
        let trainer = try TrainingBenchmark.trainer(TrainingBenchmark.config(batchSize: 2))
        XCTAssertEqual(trainer.generator.inputShape, [100])
        XCTAssertEqual(trainer.generator.shapes, [[6272], [6272], [6272], [128, 7, 7], [64, 14, 14], [64, 14, 14],
                                                             [64, 14, 14], [1, 28, 28], [1, 28, 28]])
        XCTAssertEqual(trainer.discriminator.shapes, [[64, 14, 14], [64, 14, 14], [128, 7, 7], [128, 7, 7], [128, 7, 7],
                                                      [6272], [1]])
        // sum(p.numel() for p in g.parameters()) and d's, from bench_models.training_pair().
        XCTAssertEqual(trainer.generator.parameterCount, 778_305)
        XCTAssertEqual(trainer.discriminator.parameterCount, 138_689)
        XCTAssertEqual(trainer.config.generatorOptimizer, .adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999))
        XCTAssertEqual(trainer.config.discriminatorOptimizer, .adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999))
        XCTAssertEqual(trainer.config.loss, .nonSaturating)
        XCTAssertEqual(trainer.config.discriminatorSteps, 1)
        XCTAssertEqual(trainer.config.batchSize, 2)
    }

    func testFixedRealBatchIsThePeersBatch() {
        let batch = FixedRealBatch(sampleShape: [1, 28, 28], batchSize: 2)
        XCTAssertEqual(batch.values.shape, [2, 1, 28, 28])
        let v = batch.values.data
        // fixed_real_batch(2) in Tools/bench_peers.py, values 0, 1, 2 and 1567 (exact float32 bits).
        XCTAssertEqual(v[0], -1)
        XCTAssertEqual(v[1], 0x1.e3779cp-3)
        XCTAssertEqual(v[2], -0x1.0e4432p-1)
        XCTAssertEqual(v[1567], -0x1.4dc3b2p-4)
        XCTAssertEqual(Double(v.reduce(0) { $0 + Double($1) }), 0.11539942771196365, accuracy: 1e-9)
        XCTAssertTrue(v.allSatisfy { $0 >= -1 && $0 < 1 })
        var rng = RandomStream(seed: 0)
        XCTAssertEqual(batch.batch(number: 5, size: 2, range: (-1, 1), rng: &rng), batch.values)
    }

    func testTrainStepRunsOnTheFixedBatch() throws {
        let trainer = try TrainingBenchmark.trainer(TrainingBenchmark.config(batchSize: 2))
        let before = trainer.generator.parameters.map(\.value)
        let stats = trainer.trainStep()
        XCTAssertTrue(stats.discriminatorLoss.isFinite && stats.generatorLoss.isFinite)
        XCTAssertNotEqual(trainer.generator.parameters.map(\.value), before)
    }
}
