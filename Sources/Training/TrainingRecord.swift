import Foundation
import ModelIO

extension GANTrainer {
    /// What model.json's "training" section records of a run: the command, the data, the
    /// settings, the steps and time, the machine and the last losses.
    public func record(command: String, dataset: ImageDataset, last: StepStats?, seconds: Double,
                       finished: Bool, machine: String) -> JSONValue {
        let c = config
        var o: [String: JSONValue] = [
            "tool": .string("forger train"),
            "command": .string(command),
            "data": .string(dataset.source),
            "images": .number(Double(dataset.count)),
            "architecture": .string(c.architecture.name),
            "steps": .number(Double(step)),
            "epochs": .number((epoch * 100).rounded() / 100),
            "batch_size": .number(Double(c.batchSize)),
            "discriminator_steps": .number(Double(c.discriminatorSteps)),
            "loss": .string(c.loss.rawValue),
            "generator_optimizer": .string(c.generatorOptimizer.summary),
            "discriminator_optimizer": .string(c.discriminatorOptimizer.summary),
            "initialisation": .string(c.initialisation.rawValue),
            "seed": .number(Double(c.seed)),
            "wall_seconds_this_run": .number(seconds.rounded()),
            "machine": .string(machine),
            "finished": .bool(finished),
        ]
        if let cond = c.conditional { o["conditional"] = .string(cond.summary) }
        if let ms = c.modeSeeking { o["mode_seeking_weight"] = .number(Double(ms.weight)) }
        if let decay = c.averageDecay { o["exported_weights"] = .string("exponential moving average of G, decay \(decay)") }
        if let last {
            o["final_losses"] = .object(["discriminator": .number(Double(last.discriminatorLoss)),
                                         "generator": .number(Double(last.generatorLoss)),
                                         "d_real": .number(Double(last.realScore)), "d_fake": .number(Double(last.fakeScore))])
        }
        return .object(o)
    }
}

/// The machine a run used, as model cards name it: the CPU's model name and core count.
public func machineDescription() -> String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    return "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores, Linux"
}
