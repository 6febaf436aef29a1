import Foundation
import Tensor

/// Receives progress from a training run and may ask it to stop (Ctrl-C).
public protocol TrainingReporter: AnyObject {
    /// `stepsThisRun` generator steps took `elapsed` seconds (for rates and ETAs after a resume).
    func stepFinished(_ stats: StepStats, of total: Int, elapsed: Double, stepsThisRun: Int)
    /// Fixed-noise samples (S, C, H, W) at `step`.
    func samplesReady(_ samples: Tensor, step: Int) throws
    func checkpointSaved(at url: URL, step: Int)
    var shouldStop: Bool { get }
}

/// A reporter that shows nothing and never stops: for tests and --quiet.
public final class SilentReporter: TrainingReporter {
    public init() {}
    public func stepFinished(_ stats: StepStats, of total: Int, elapsed: Double, stepsThisRun: Int) {}
    public func samplesReady(_ samples: Tensor, step: Int) throws {}
    public func checkpointSaved(at url: URL, step: Int) {}
    public var shouldStop: Bool { false }
}

/// Runs a trainer to a step count with periodic samples and checkpoints.
public struct TrainingRun {
    public enum Outcome: Equatable { case finished, interrupted }

    public var totalSteps: Int
    public var sampleEvery: Int
    public var checkpointEvery: Int
    public var checkpoint: URL?

    public init(totalSteps: Int, sampleEvery: Int = 0, checkpointEvery: Int = 0, checkpoint: URL? = nil) {
        self.totalSteps = totalSteps; self.sampleEvery = sampleEvery
        self.checkpointEvery = checkpointEvery; self.checkpoint = checkpoint
    }

    /// Trains until `totalSteps` or until the reporter asks to stop; either way the last state
    /// is checkpointed (when a checkpoint path is set). Returns the last step's stats.
    @discardableResult
    public func run(_ trainer: GANTrainer, reporter: TrainingReporter) throws -> (Outcome, StepStats?) {
        let start = Date(), firstStep = trainer.step
        var last: StepStats? = nil
        if trainer.step == 0, sampleEvery > 0 { try reporter.samplesReady(trainer.samples(), step: 0) }
        while trainer.step < totalSteps {
            if reporter.shouldStop {
                try save(trainer, reporter)
                return (.interrupted, last)
            }
            let stats = trainer.trainStep()
            last = stats
            reporter.stepFinished(stats, of: totalSteps, elapsed: Date().timeIntervalSince(start),
                                  stepsThisRun: trainer.step - firstStep)
            if sampleEvery > 0, trainer.step % sampleEvery == 0 || trainer.step == totalSteps {
                try reporter.samplesReady(trainer.samples(), step: trainer.step)
            }
            if checkpointEvery > 0, trainer.step % checkpointEvery == 0 { try save(trainer, reporter) }
        }
        try save(trainer, reporter)
        return (.finished, last)
    }

    private func save(_ trainer: GANTrainer, _ reporter: TrainingReporter) throws {
        guard let checkpoint else { return }
        try trainer.saveCheckpoint(to: checkpoint)
        reporter.checkpointSaved(at: checkpoint, step: trainer.step)
    }
}
