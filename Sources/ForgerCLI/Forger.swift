import ArgumentParser
import Foundation
import Safety
import Tensor

/// The `forger` command: explore what trained GAN generators have learned.
public struct Forger: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "forger",
        abstract: "Explore trained GAN generators: sample, walk, sweep, and do arithmetic on latents.",
        version: Forger.version,
        subcommands: [Info.self, Models.self, Sample.self, Walk.self, SweepCommand.self, VectorCommand.self,
                      Arith.self, Analogy.self, DirectionsCommand.self, Project.self, RenderRecipe.self, Import.self, Export.self, Train.self, Toy.self,
                      Evaluate.self, Serve.self, Bench.self, ImagingBench.self])

    public static let version = "0.2.0"

    public init() {}

    /// Entry point used by the executable: single-threaded BLAS, Forger parallelises itself.
    public static func run(arguments: [String]? = nil) {
        Gemm.useSingleThreadedBLAS()
        TemporaryFiles.removeOnInterrupt()
        PeakMemory.reportAtExitIfAsked()
        let given = arguments ?? Array(CommandLine.arguments.dropFirst())
        if let message = unknownCommandMessage(given) {
            FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            Foundation.exit(64)
        }
        CommandLineRecord.arguments = given
        main(arguments)
    }

    /// Every name and alias a subcommand answers to.
    static var commandNames: [String] {
        configuration.subcommands.flatMap { [$0._commandName] + $0.configuration.aliases }
    }

    /// For a first argument that is neither an option nor a command, a message naming it and
    /// the nearest command (argument-parser would report the next option as unknown instead).
    static func unknownCommandMessage(_ arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-"), first != "help", !commandNames.contains(first) else { return nil }
        let nearest = commandNames.map { ($0, editDistance(first, $0)) }.min { $0.1 < $1.1 }
        let hint = nearest.map { $0.1 <= max(2, first.count / 3) ? " Did you mean '\($0.0)'?" : "" } ?? ""
        let visible = configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }
        return "unknown command '\(first)'.\(hint) Commands: \(visible.joined(separator: ", ")) (forger --help)"
    }

    /// Levenshtein distance: insertions, deletions and substitutions.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}

/// An error for the user: printed as `error: <message>`, exit code 1.
struct UserError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// FORGER_PEAK_MEMORY=1 makes any command print its peak resident memory to stderr as it exits:
/// `forger: peak memory N KB`, the VmHWM of /proc/self/status. That is this program's own
/// address space since exec, unlike a parent's wait4 figure, which starts from the parent's size.
enum PeakMemory {
    static let variable = "FORGER_PEAK_MEMORY"
    static let prefix = "forger: peak memory "

    static func reportAtExitIfAsked() {
        guard getenv(variable) != nil else { return }
        atexit {
            guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                  let kb = PeakMemory.highWaterKB(status: status) else { return }
            FileHandle.standardError.write(Data("\(PeakMemory.prefix)\(kb) KB\n".utf8))
        }
    }

    /// The VmHWM line of a /proc/<pid>/status text, in KB.
    static func highWaterKB(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// Runs `path args` with the report asked for and returns the peak it printed, or nil when
    /// it cannot start, exits non-zero or prints none.
    static func ofChild(_ path: String, _ args: [String]) -> Int? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.merging([variable: "1"]) { $1 }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return text.split(separator: "\n").last { $0.hasPrefix(prefix) }
            .flatMap { Int($0.dropFirst(prefix.count).split(separator: " ").first ?? "") }
    }
}
