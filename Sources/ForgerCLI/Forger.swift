import ArgumentParser
import Foundation
import Tensor

/// The `forger` command: explore what trained GAN generators have learned.
public struct Forger: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "forger",
        abstract: "Explore trained GAN generators: sample, walk, sweep, and do arithmetic on latents.",
        subcommands: [Info.self, Models.self, Sample.self, Walk.self, SweepCommand.self, VectorCommand.self,
                      Arith.self, Analogy.self, RenderRecipe.self, Import.self, Export.self, Train.self, Toy.self,
                      Evaluate.self, Bench.self, ImagingBench.self])

    public init() {}

    /// Entry point used by the executable: single-threaded BLAS, Forger parallelises itself.
    public static func run(arguments: [String]? = nil) {
        Gemm.useSingleThreadedBLAS()
        CommandLineRecord.arguments = arguments ?? Array(CommandLine.arguments.dropFirst())
        main(arguments)
    }
}

/// An error for the user: printed as `error: <message>`, exit code 1.
struct UserError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
