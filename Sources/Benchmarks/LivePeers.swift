import Foundation

/// The peers of `forger bench`, timed one window at a time by a child process (Tools/bench_peers.py
/// --serve), so that their windows alternate with Forger's: a machine whose speed drifts then
/// moves both alike. The child prints {"peers": {name: version}, "missing": {name: why}} on one
/// line, then answers each "window PEER MODEL BATCH THREADS SECONDS" line with images per second,
/// and each "train SETTING BATCH SECONDS" line with PyTorch's training iterations per second and
/// its threads, or with a line starting "error ".
public final class LivePeers {
    struct Hello: Decodable {
        let peers: [String: String]
        let missing: [String: String]
        /// The OpenBLAS kernels PyTorch's training processes get.
        let openblas_coretype: String?
    }

    public let command: String
    public let versions: [String: String]
    public let missing: [String: String]
    public let openblasCoretype: String?
    private let process = Process()
    private let input: FileHandle
    private let output: FileHandle
    private var buffer = Data()

    /// Starts `command` (run by /bin/sh) and reads its first line.
    public init(command: String) throws {
        self.command = command
        // A child that dies must not take Forger with it when the next request is written.
        signal(SIGPIPE, SIG_IGN)
        let toChild = Pipe(), fromChild = Pipe()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardInput = toChild
        process.standardOutput = fromChild
        do { try process.run() } catch {
            throw BenchmarkError("--peer-server '\(command)': could not start it: \(error.localizedDescription)")
        }
        input = toChild.fileHandleForWriting
        output = fromChild.fileHandleForReading
        let first = LivePeers.readLine(output, &buffer)
        guard let line = first, let hello = try? JSONDecoder().decode(Hello.self, from: Data(line.utf8)) else {
            process.terminate()
            throw BenchmarkError("--peer-server '\(command)': expected a JSON line of peers first, got "
                            + (first.map { "'\($0)'" } ?? "nothing (did it exit?)")
                            + "; run it by hand to see why (Tools/bench_peers.py --serve MODELS_DIR)")
        }
        versions = hello.peers
        missing = hello.missing
        openblasCoretype = hello.openblas_coretype
    }

    /// Images per second of one window of `peer` on `model`, or why there is none.
    public func window(peer: String, model: String, batch: Int, threads: Int, seconds: Double) -> Result<Double, BenchmarkError> {
        ask("window \(peer) \(model) \(batch) \(threads) \(seconds)").flatMap { reply in
            if let rate = Double(reply), rate > 0 { return .success(rate) }
            return .failure(BenchmarkError("unexpected reply '\(reply)'"))
        }
    }

    /// PyTorch's GAN training iterations per second in one window at `setting` ("1", "default"
    /// or a thread count, each in a process of its own), and the threads it ran on.
    public func train(setting: String, batch: Int, seconds: Double) -> Result<(Double, Int), BenchmarkError> {
        ask("train \(setting) \(batch) \(seconds)").flatMap { reply in
            let words = reply.split(separator: " ")
            if words.count == 2, let rate = Double(words[0]), rate > 0, let threads = Int(words[1]) { return .success((rate, threads)) }
            return .failure(BenchmarkError("unexpected reply '\(reply)'"))
        }
    }

    /// Sends one request line and reads the reply line; a reply starting "error " is a failure
    /// with the server's reason.
    private func ask(_ request: String) -> Result<String, BenchmarkError> {
        do { try input.write(contentsOf: Data((request + "\n").utf8)) } catch {
            return .failure(BenchmarkError("the peer server stopped (\(error.localizedDescription))"))
        }
        guard let reply = LivePeers.readLine(output, &buffer) else {
            return .failure(BenchmarkError("the peer server stopped without answering '\(request)'"))
        }
        return reply.hasPrefix("error ") ? .failure(BenchmarkError(String(reply.dropFirst(6)))) : .success(reply)
    }

    /// Closes the child's input (it exits at the end of it) and waits for it.
    public func close() {
        try? input.close()
        process.waitUntilExit()
    }

    /// The next line from `handle`, or nil at its end.
    private static func readLine(_ handle: FileHandle, _ buffer: inout Data) -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let more = handle.availableData
            if more.isEmpty { return nil }
            buffer.append(more)
        }
    }
}

/// A benchmark that could not run, or a peer that gave no figure: printed as the message.
public struct BenchmarkError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
