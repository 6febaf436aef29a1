import ArgumentParser
import Foundation
import ModelIO
import NN
import Tensor

/// `forger bench`: Forger's inference speed on the benchmark models, beside the peers' figures
/// measured by Tools/bench_peers.py in the same run. Tools/bench.sh runs the whole thing.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark inference (images/s, GFLOP/s) against PyTorch and onnxruntime figures.",
        discussion: """
        Runs every model directory under --models (a, b, c as Tools/bench_models.py writes them) at each \
        batch size: warm-up, then the best of --repeats windows of at least --seconds each, and the best over \
        the --threads worker counts (default 1 and one per core), as the peers' figures are. GFLOP/s counts \
        the layers' nominal multiply-adds (2 FLOP each). --peers reads the JSON of Tools/bench_peers.py and \
        adds each peer's images/s and Forger's ratio to it.
        """)

    @Option(help: "Directory holding one model directory per benchmark generator.")
    var models = ".bench/models"
    @Option(help: "JSON of peer figures from Tools/bench_peers.py.")
    var peers: String?
    @Option(help: "Comma-separated batch sizes.")
    var batches = "1,16,64,256"
    @Option(help: "Minimum seconds per timed window.")
    var seconds = 0.4
    @Option(help: "Timed windows per figure; the best counts.")
    var repeats = 3
    @Option(help: "Comma-separated worker counts; each figure is the best of them, as for the peers (default: 1 and one per core).")
    var threads: String?
    @Option(help: "Only these models (comma-separated directory names).")
    var only: String?
    @Flag(help: "Skip the cold-start measurement.")
    var noColdStart = false

    struct PeerFile: Decodable {
        struct Peer: Decodable {
            let version: String
            let rates: [String: [String: Double]]
            let cold_start_s: Double?
        }
        let peers: [String: Peer]
        let missing: [String: String]
    }

    func validate() throws {
        guard batchSizes.count > 0, batchSizes.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--batches must be positive integers separated by commas, got '\(batches)'")
        }
        guard seconds > 0, repeats >= 1 else { throw ValidationError("--seconds and --repeats must be positive") }
    }

    var batchSizes: [Int] { batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let root = URL(fileURLWithPath: models)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: models)) ?? [])
            .filter { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent(ModelStore.manifestFile).path) }
            .sorted().filter { only == nil || only!.split(separator: ",").contains(Substring($0)) }
        let cores = Parallel.workerCount
        let workerCounts = threads.map { $0.split(separator: ",").compactMap { Int($0) }.map { max(1, $0) } }
            ?? Array(Set([1, cores])).sorted()
        guard !names.isEmpty else {
            throw UserError("--models \(models): no model directories; run /usr/bin/python3 Tools/bench_models.py first")
        }
        var peerFile: PeerFile? = nil
        if let peers {
            do { peerFile = try JSONDecoder().decode(PeerFile.self, from: Data(contentsOf: URL(fileURLWithPath: peers))) } catch {
                throw UserError("--peers \(peers): \(error)")
            }
        }
        let peerNames = (peerFile?.peers.keys.sorted { $0 > $1 }) ?? []   // onnxruntime, pytorch
        print("forger bench: best of \(workerCounts) workers, OpenBLAS kernels \(Gemm.kernelName ?? "?"), best of \(repeats) x \(seconds) s; GFLOP/s on nominal multiply-adds")
        var header = ["model", "batch", "workers", "forger img/s", "img/cpu-s", "GFLOP/s"]
        for p in peerNames { header += ["\(p) img/s", "x \(p)"] }
        var rows: [[String]] = []
        var notes: [String] = []
        for name in names {
            let model = try ModelStore.load(root.appendingPathComponent(name))
            let g = model.inferenceGenerator
            let nominal = g.multiplyAddsPerImage, planned = g.plannedMultiplyAddsPerImage
            notes.append("\(name): \(model.manifest.name), \(fmt(Double(nominal) / 1e6, 2)) M multiply-adds nominal, \(fmt(Double(planned) / 1e6, 2)) M computed by the plan")
            for b in batchSizes {
                var (rate, perCPU, best) = (0.0, 0.0, 0)
                for workers in workerCounts {
                    // A fresh copy compiles its plan for this worker count.
                    Parallel.workerCount = workers
                    let copy = try Generator(latentSize: g.latentSize, inputShape: g.inputShape,
                                             conditioning: g.conditioning, layers: g.layers)
                    let m = measure(copy, batch: b)
                    if m.rate > rate { (rate, perCPU, best) = (m.rate, m.perCPUSecond, workers) }
                }
                Parallel.workerCount = cores
                var row = [name, "\(b)", "\(best)", fmt(rate, 0), fmt(perCPU, 0), fmt(rate * 2 * Double(nominal) / 1e9, 1)]
                for p in peerNames {
                    if let r = peerFile?.peers[p]?.rates[name]?["\(b)"], r > 0 {
                        row += [fmt(r, 0), fmt(rate / r, 2)]
                    } else {
                        row += ["-", "-"]
                    }
                }
                rows.append(row)
            }
        }
        printTable(header, rows)
        for n in notes { print("  " + n) }
        if let peerFile {
            for p in peerNames { print("  \(p): \(peerFile.peers[p]!.version)") }
            for (p, why) in peerFile.missing.sorted(by: { $0.key < $1.key }) { print("  \(p): missing (\(why)); Forger's figures stand alone") }
        } else {
            print("  peers: none given (--peers); Forger's figures only")
        }
        print("")
        if !noColdStart, names.contains("a") {
            let cold = coldStart(model: root.appendingPathComponent("a"))
            var line = "cold start to first PNG (model a, 1 image): forger " + (cold.map { fmt($0 * 1000, 0) + " ms" } ?? "failed")
            for p in peerNames {
                if let s = peerFile?.peers[p]?.cold_start_s { line += ", \(p) \(fmt(s * 1000, 0)) ms" }
            }
            print(line)
        }
        print("GAN training iterations/s (C + conv discriminator, batch 64, Adam): not available yet (no training loop on this branch)")
        print("peak memory, 1,000-frame walk vs 10-frame walk: not available yet (no walk command on this branch)")
    }

    /// Best images per second over `repeats` windows of at least `seconds`.
    func measure(_ g: Generator, batch: Int) -> (rate: Double, perCPUSecond: Double) {
        var seed: UInt64 = 42
        let z = Tensor(shape: [batch, g.latentSize], data: (0..<(batch * g.latentSize)).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(seed >> 40) / Float(1 << 24)
        })
        _ = g.forward(z); _ = g.forward(z)
        var best = 0.0, bestCPU = 0.0
        for _ in 0..<repeats {
            var n = 0
            let cpuStart = cpuSeconds()
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            repeat {
                _ = g.forward(z)
                n += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < seconds || n < 2
            best = max(best, Double(n * batch) / elapsed)
            bestCPU = max(bestCPU, Double(n * batch) / max(1e-9, cpuSeconds() - cpuStart))
        }
        return (best, bestCPU)
    }

    /// User + system CPU seconds of this process, all threads.
    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// Best wall time of `forger sample <model> -n 1 -o <png>` in a fresh process, over 5 runs.
    func coldStart(model: URL) -> Double? {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let png = FileManager.default.temporaryDirectory.appendingPathComponent("forger-bench-cold-\(getpid()).png")
        var best: Double? = nil
        for _ in 0..<5 {
            try? FileManager.default.removeItem(at: png)
            let process = Process()
            process.executableURL = exe
            process.arguments = ["sample", model.path, "-n", "1", "-o", png.path, "-q"]
            let start = DispatchTime.now().uptimeNanoseconds
            do { try process.run() } catch { return nil }
            process.waitUntilExit()
            let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if process.terminationStatus == 0, FileManager.default.fileExists(atPath: png.path) { best = min(best ?? t, t) }
        }
        try? FileManager.default.removeItem(at: png)
        return best
    }

    func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    func printTable(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        func line(_ r: [String]) -> String {
            r.enumerated().map { c, s in c < 3 ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - s.count) + s }.joined(separator: "  ")
        }
        print(line(header))
        print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for r in rows { print(line(r)) }
    }
}
