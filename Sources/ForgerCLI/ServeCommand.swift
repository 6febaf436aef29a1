import ArgumentParser
import Explorer
import Foundation
import Tensor

/// `forger serve`: the explorer, a local web application over the models.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explore models in a web browser: sliders over directions, bookmarks, walks, exports.",
        discussion: """
        Serves a page and a small JSON/PNG/GIF API (README, 'Explorer') on http://HOST:PORT/. \
        Models are loaded once; renders run on the engine's workers with a bounded queue. \
        Bound to 127.0.0.1 unless --host says otherwise: on another address anyone who can \
        reach it can use it. Exports (PNG or GIF plus its recipe, redrawn by 'forger render') \
        go into --exports under names the server chooses.
        """)

    @Option(parsing: .upToNextOption, help: "Model directories, or folders of them (default: the folders 'forger models' searches).")
    var models: [String] = []
    @Option(help: "Port, 0 to 65535 (0: any free port, printed at start).")
    var port = 8080
    @Option(help: "Address to listen on (default loopback only).")
    var host = "127.0.0.1"
    @Option(help: "Folder for exports (created if missing); without it exporting is off.")
    var exports: String?
    @Option(help: "Renders at once, 1 to 64 (default: half the engine's workers, at least 1).")
    var workers: Int?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535, got \(port)") }
        if let workers, !(1...64).contains(workers) { throw ValidationError("--workers must be 1 to 64, got \(workers)") }
        guard !host.isEmpty else { throw ValidationError("--host: give an address, e.g. 127.0.0.1") }
    }

    func run() throws {
        let log = { (line: String) in FileHandle.standardError.write(Data("forger serve: \(line)\n".utf8)) }
        if !ExplorerServer.isLoopback(host) {
            log("warning: listening on \(host), not loopback: anyone on the network who can reach this address can use the explorer and write exports")
        }
        let catalogue = try Catalogue.load(folders: models.map { URL(fileURLWithPath: $0) }, log: log)
        let server = try ExplorerServer(catalogue: catalogue, configuration: .init(
            host: host, port: port, exports: exports.map { URL(fileURLWithPath: $0) },
            workers: workers ?? max(1, Parallel.workerCount / 2)))
        let host = self.host
        let app = server.application { port in
            log("http://\(host.contains(":") ? "[\(host)]" : host):\(port)/ (\(catalogue.names.joined(separator: ", ")))")
        }
        // The command runs synchronously; the server runs on Swift concurrency until SIGINT/SIGTERM.
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do { try await app.runService() } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw UserError("the server stopped: \(error)") }
    }

    private final class FailureBox: @unchecked Sendable { var error: (any Error)? }
}
