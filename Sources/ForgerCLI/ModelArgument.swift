import ArgumentParser
import Foundation
import ModelIO

/// The `MODEL` argument every model command takes: a name from `forger models` or a path.
struct ModelArgument: ParsableArguments {
    @Argument(help: "A model name (see 'forger models') or a path to a model directory.")
    var model: String

    func load() throws -> LoadedModel {
        try ModelStore.load(try ModelCatalog.resolve(model))
    }
}

extension LatentDistribution {
    var summary: String {
        switch self {
        case .normal: return "normal N(0, 1)"
        case .uniform(let low, let high): return "uniform U(\(low), \(high))"
        }
    }
}
