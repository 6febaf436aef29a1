import ArgumentParser
import Foundation
import Benchmarks
import Render
import ModelIO
import NN
import Tensor
import Training

/// `forger bench`: Forger's inference and GAN training speed on the benchmark models, beside the
/// peers' figures measured by Tools/bench_peers.py in the same run. Tools/bench.sh runs the whole thing.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark inference (images/s, GFLOP/s) and GAN training (iterations/s) against PyTorch and onnxruntime figures.",
        discussion: """
        Runs every model directory under --models (a, b, c as Tools/bench_models.py writes them) at each \
        batch size: warm-up, then the best of --repeats windows of at least --seconds each, and the best over \
        the --threads worker counts (default 1 and one per core), as the peers' figures are. GFLOP/s counts \
        the layers' nominal multiply-adds (2 FLOP each). --peers reads the JSON of Tools/bench_peers.py and \
        adds each peer's images/s and Forger's ratio to it. With --peer-server, the peers' images/s come from \
        that command instead (Tools/bench_peers.py --serve), timed in windows that alternate with Forger's \
        (each round: Forger at each worker count, then each peer at each thread count), so that a machine \
        whose speed drifts moves both alike; --peers then supplies only the cold start and training figures.

        Then the GAN training row: iterations per second of generator C (z 100 -> linear 6272 + BN + relu \
        -> (128, 7, 7) -> convT(128, 64, 4, 2, 1) + BN + relu -> convT(64, 1, 4, 2, 1) + tanh) against a \
        small conv discriminator (conv(1, 64, 4, 2, 1) + leaky relu 0.2 -> conv(64, 128, 4, 2, 1, no bias) + \
        BN + leaky relu 0.2 -> flatten -> linear(6272, 1)), batch --training-batch (64), Adam lr 2e-4, betas \
        0.5/0.999, DCGAN initialisation. One iteration is one D step (a real batch, then a batch of fakes) and \
        one G step on fresh latents, non-saturating loss: GANTrainer's step. The real batch is a fixed \
        tensor of values spread over [-1, 1), the same values the PyTorch peer uses. Timed as the inference \
        rows are (warm-up, best of --repeats windows of at least --training-seconds, best over --threads), \
        beside PyTorch's figures at 1 thread (OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1, \
        torch.set_num_threads(1)), at its default threads, and at all cores when its default uses fewer; \
        the ratio is to PyTorch's best of them. PyTorch gets the OpenBLAS kernels Forger selects where \
        Debian's OpenBLAS falls back to generic ones.
        """)

    @Option(help: "Directory holding one model directory per benchmark generator.")
    var models = ".bench/models"
    @Option(help: "JSON of peer figures from Tools/bench_peers.py.")
    var peers: String?
    @Option(help: "A command that serves the peers' windows (Tools/bench_peers.py --serve MODELS_DIR): the peers are then timed in windows alternating with Forger's, and their images/s come from it, not from --peers.")
    var peerServer: String?
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
    @Flag(help: "Skip the cold-start and walk-memory measurements (both run child processes on model a).")
    var noColdStart = false
    @Option(help: "Batch size of the GAN training row (Tools/bench.sh times the peer at the same size; no ratio if they differ).")
    var trainingBatch = 64
    @Option(help: "Minimum seconds per timed window of the GAN training row.")
    var trainingSeconds = 1.0
    @Flag(help: "Skip the GAN training row.")
    var noTraining = false
    @Flag(help: "Instead of the table: Forger's own GEMM (its vector path: AVX-512, AVX2 or NEON) against OpenBLAS inside Forger, windows alternating, the median of the per-pair ratios (a machine whose speed drifts moves both alike).")
    var compareEngines = false

    @Flag(help: "Only the GAN training row (needs no model directories).")
    var trainingOnly = false

    struct PeerFile: Decodable {
        struct Peer: Decodable {
            let version: String
            let rates: [String: [String: Double]]
            let cold_start_s: Double?
            let training: Training?
        }
        /// A peer's GAN training figures: iterations/s at each thread setting it was run with.
        struct Training: Decodable {
            struct Setting: Decodable {
                let label: String
                let threads: Int
                let rate: Double
            }
            let batch: Int
            let settings: [Setting]
            let openblas_coretype: String?
        }
        let peers: [String: Peer]
        let missing: [String: String]
    }

    func validate() throws {
        guard batchSizes.count > 0, batchSizes.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--batches must be positive integers separated by commas, got '\(batches)'")
        }
        guard seconds > 0, repeats >= 1 else { throw ValidationError("--seconds and --repeats must be positive") }
        guard trainingBatch >= 2 else {
            throw ValidationError("--training-batch must be at least 2 (batch norm needs two samples), got \(trainingBatch)")
        }
        guard trainingSeconds > 0 else { throw ValidationError("--training-seconds must be positive, got \(trainingSeconds)") }
        guard !(noTraining && trainingOnly) else { throw ValidationError("--no-training and --training-only exclude each other") }
    }

    var batchSizes: [Int] { batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    /// The --threads worker counts, default 1 and one per core.
    var workerCounts: [Int] {
        threads.map { $0.split(separator: ",").compactMap { Int($0) }.map { max(1, $0) } }
            ?? Array(Set([1, Parallel.workerCount])).sorted()
    }

    func loadPeers() throws -> PeerFile? {
        guard let peers else { return nil }
        do { return try JSONDecoder().decode(PeerFile.self, from: Data(contentsOf: URL(fileURLWithPath: peers))) } catch {
            throw UserError("--peers \(peers): \(error)")
        }
    }

    func run() throws {
        let peerFile = try loadPeers()
        let live = try peerServer.map { try LivePeers(command: $0) }
        defer { live?.close() }
        if trainingOnly {
            for line in try trainingReport(peerFile: peerFile, live: live) { print(line) }
            return
        }
        let root = URL(fileURLWithPath: models)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: models)) ?? [])
            .filter { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent(ModelStore.manifestFile).path) }
            .sorted().filter { only == nil || only!.split(separator: ",").contains(Substring($0)) }
        guard !names.isEmpty else {
            throw UserError("--models \(models): no model directories; run /usr/bin/python3 Tools/bench_models.py first")
        }
        // onnxruntime, pytorch
        let peerNames = ((live.map { Array($0.versions.keys) } ?? peerFile.map { Array($0.peers.keys) }) ?? []).sorted { $0 > $1 }
        let engine = FastGemm.supported ? "convolutions on FastGemm (\(FastGemm.path.name) path), other products on" : "products on"
        print("forger bench: best of \(workerCounts) workers, \(engine) OpenBLAS (\(Gemm.kernelName ?? "?") kernels), best of \(repeats) x \(seconds) s; GFLOP/s on nominal multiply-adds")
        if live != nil {
            print("peers timed live (--peer-server), best of \(workerCounts) threads, their windows alternating with Forger's")
        }
        if compareEngines {
            try compareEngineRows(names: names, root: root)
            return
        }
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
                rows.append(try inferenceRow(g, name: name, batch: b, peerNames: peerNames, live: live, peerFile: peerFile, notes: &notes))
            }
        }
        for line in table(header, rows) { print(line) }
        for n in notes { print("  " + n) }
        printPeerVersions(peerNames, live: live, peerFile: peerFile)
        print("")
        if !noColdStart, names.contains("a") { print(coldStartLine(root: root, peerNames: peerNames, peerFile: peerFile)) }
        if !noTraining {
            print("")
            for line in try trainingReport(peerFile: peerFile, live: live) { print(line) }
        }
        if !noColdStart, names.contains("a") {
            print("")
            print(walkMemoryLine(model: root.appendingPathComponent("a")))
        }
    }

    /// One row of the inference table: generator `g` at batch `b`, the best over the worker
    /// counts (a fresh copy each, its plan built for that count), and each peer's figure, live
    /// (its windows alternating with Forger's) or from --peers.
    func inferenceRow(_ g: Generator, name: String, batch b: Int, peerNames: [String], live: LivePeers?,
                      peerFile: PeerFile?, notes: inout [String]) throws -> [String] {
        let z = latents(batch: b, size: g.latentSize, seed: 42)
        var copies: [(workers: Int, generator: Generator)] = []
        for workers in workerCounts {
            let copy = try Generator(latentSize: g.latentSize, inputShape: g.inputShape,
                                     conditioning: g.conditioning, layers: g.layers, policy: KernelPolicy(workers: workers))
            _ = copy.forward(z); _ = copy.forward(z)
            copies.append((workers, copy))
        }
        var forger = [Int: (rate: Double, perCPU: Double)]()
        var peerRates = [String: Double]()
        for _ in 0..<repeats {
            for (workers, copy) in copies {
                let w = window(itemsPerCall: b, seconds: seconds) { _ = copy.forward(z) }
                let old = forger[workers] ?? (0, 0)
                forger[workers] = (max(old.rate, w.rate), max(old.perCPU, w.perCPUSecond))
            }
            guard let live else { continue }
            for p in peerNames {
                for threads in workerCounts {
                    switch live.window(peer: p, model: name, batch: b, threads: threads, seconds: seconds) {
                    case .success(let r): peerRates[p] = max(peerRates[p] ?? 0, r)
                    case .failure(let why):
                        let note = "\(p) \(name) batch \(b): no figure (\(why))"
                        if !notes.contains(note) { notes.append(note) }
                    }
                }
            }
        }
        let (best, figure) = forger.max { $0.value.rate < $1.value.rate }!
        let rate = figure.rate
        var row = [name, "\(b)", "\(best)", fmt(rate, 0), fmt(figure.perCPU, 0), fmt(rate * 2 * Double(g.multiplyAddsPerImage) / 1e9, 1)]
        for p in peerNames {
            let peerRate = live != nil ? peerRates[p] : peerFile?.peers[p]?.rates[name]?["\(b)"]
            if let r = peerRate, r > 0 {
                row += [fmt(r, 0), fmt(rate / r, 2)]
            } else {
                row += ["-", "-"]
            }
        }
        return row
    }

    /// The peers' versions, or why a peer is missing.
    func printPeerVersions(_ peerNames: [String], live: LivePeers?, peerFile: PeerFile?) {
        if let live {
            for p in peerNames { print("  \(p): \(live.versions[p]!), timed live") }
            for (p, why) in live.missing.sorted(by: { $0.key < $1.key }) { print("  \(p): missing (\(why)); Forger's figures stand alone") }
        } else if let peerFile {
            for p in peerNames { print("  \(p): \(peerFile.peers[p]!.version)") }
            for (p, why) in peerFile.missing.sorted(by: { $0.key < $1.key }) { print("  \(p): missing (\(why)); Forger's figures stand alone") }
        } else {
            print("  peers: none given (--peers); Forger's figures only")
        }
    }

    /// Cold start to the first PNG of model a, Forger's and the peers' from --peers.
    func coldStartLine(root: URL, peerNames: [String], peerFile: PeerFile?) -> String {
        let cold = coldStart(model: root.appendingPathComponent("a"))
        var line = "cold start to first PNG (model a, 1 image): forger " + (cold.map { fmt($0 * 1000, 0) + " ms" } ?? "failed")
        for p in peerNames {
            if let s = peerFile?.peers[p]?.cold_start_s { line += ", \(p) \(fmt(s * 1000, 0)) ms" }
        }
        return line
    }

    /// Peak resident memory of `forger walk` on `model` at 10 and 1,000 frames, each in a
    /// fresh process that reports its own high-water mark (FORGER_PEAK_MEMORY).
    func walkMemoryLine(model: URL) -> String {
        let gif = FileManager.default.temporaryDirectory.appendingPathComponent("forger-bench-walk-\(getpid()).gif")
        defer { Self.removeWithRecipe(gif) }
        func peakKB(frames: Int) -> Int? {
            let args = ["walk", model.path, "--keyframes", "seed:1,seed:2", "--frames", String(frames - 1), "-o", gif.path, "-q", "--force"]
            return PeakMemory.ofChild(URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, args)
        }
        guard let small = peakKB(frames: 10), let large = peakKB(frames: 1000) else {
            return "peak memory of a walk on model a: failed to run forger walk"
        }
        return "peak memory, forger walk on model a: 10 frames \(small) KB, 1,000 frames \(large) KB (\(fmt(Double(large) / Double(small), 2))x)"
    }

    /// `--compare-engines`: per model and batch, two copies of the generator, one planned with
    /// FastGemm and one with OpenBLAS, timed in alternating windows at one worker per core.
    func compareEngineRows(names: [String], root: URL) throws {
        guard FastGemm.supported else { throw UserError("--compare-engines: no vector path is active (FORGER_ISA=\(FastGemm.path.name)); Forger runs on OpenBLAS only") }
        print("forger bench --compare-engines: FastGemm against OpenBLAS (\(Gemm.kernelName ?? "?")), \(Parallel.workerCount) workers, \(max(5, repeats)) alternating pairs of \(seconds) s windows")
        var rows: [[String]] = []
        for name in names {
            let g = try ModelStore.load(root.appendingPathComponent(name)).inferenceGenerator
            for b in batchSizes {
                let z = latents(batch: b, size: g.latentSize, seed: 7)
                func copy(fast: Bool) throws -> Generator {
                    let c = try Generator(latentSize: g.latentSize, inputShape: g.inputShape,
                                          conditioning: g.conditioning, layers: g.layers, policy: KernelPolicy(fastGemm: fast))
                    _ = c.forward(z)   // compiles the plan
                    return c
                }
                let (fast, blas) = (try copy(fast: true), try copy(fast: false))
                var ratios: [Double] = [], fastRates: [Double] = [], blasRates: [Double] = []
                for _ in 0..<max(5, repeats) {
                    _ = fast.forward(z)
                    let f = window(itemsPerCall: b, seconds: seconds) { _ = fast.forward(z) }.rate
                    _ = blas.forward(z)
                    let o = window(itemsPerCall: b, seconds: seconds) { _ = blas.forward(z) }.rate
                    fastRates.append(f); blasRates.append(o); ratios.append(f / o)
                }
                func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
                rows.append([name, "\(b)", fmt(median(fastRates), 0), fmt(median(blasRates), 0), fmt(median(ratios), 2),
                             "\(fmt(ratios.min()!, 2))-\(fmt(ratios.max()!, 2))"])
            }
        }
        for line in table(["model", "batch", "fastgemm img/s", "openblas img/s", "ratio (median)", "ratio range"], rows) { print(line) }
    }

    /// Latents (batch x size) from a fixed linear congruential sequence.
    func latents(batch: Int, size: Int, seed start: UInt64) -> Tensor {
        var seed = start
        return Tensor(shape: [batch, size], data: (0..<(batch * size)).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(seed >> 40) / Float(1 << 24)
        })
    }

    /// Items per second (and per CPU-second of this process) of one window of at least `seconds`
    /// and two calls.
    func window(itemsPerCall: Int, seconds: Double, _ body: () -> Void) -> (rate: Double, perCPUSecond: Double) {
        var n = 0
        let cpuStart = cpuSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            body()
            n += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds || n < 2
        return (Double(n * itemsPerCall) / elapsed, Double(n * itemsPerCall) / max(1e-9, cpuSeconds() - cpuStart))
    }

    // MARK: GAN training

    /// Forger's GAN training figure: iterations per second (and per CPU-second), the best over
    /// the worker counts with a fresh trainer for each, and the networks' sizes.
    struct TrainingFigure {
        var rate: Double
        var perCPUSecond: Double
        var workers: Int
        var generatorParameters: Int
        var discriminatorParameters: Int
    }

    /// Forger's best training figure over the worker counts and, with `live`, PyTorch's at each
    /// setting (1 thread, its default, all cores if the default uses fewer), their windows
    /// alternating with Forger's; else PyTorch's figures are the ones in --peers.
    /// The third value says why PyTorch has no live figures, when it has none.
    func measureTraining(live: LivePeers? = nil) throws -> (TrainingFigure, PeerFile.Training?, String?) {
        let config = TrainingBenchmark.config(batchSize: trainingBatch)
        let cores = Parallel.workerCount
        defer { Parallel.workerCount = cores }
        var trainers: [(workers: Int, trainer: GANTrainer)] = []
        for workers in workerCounts {
            Parallel.workerCount = workers
            let trainer = try TrainingBenchmark.trainer(config)
            trainer.trainStep(); trainer.trainStep()
            trainers.append((workers, trainer))
        }
        // PyTorch's settings, as Tools/bench_peers.py's training row has them.
        var settings = ["1", "default"]
        if let live, case .success(let (_, threads)) = live.train(setting: "default", batch: trainingBatch, seconds: 0.01),
           threads < cores {
            settings.append("\(cores)")
        }
        var forger = [Int: (rate: Double, perCPU: Double)]()
        var peer = [String: (rate: Double, threads: Int)]()
        var failure: BenchmarkError?
        for _ in 0..<repeats {
            for (workers, trainer) in trainers {
                Parallel.workerCount = workers
                let w = window(itemsPerCall: 1, seconds: trainingSeconds) { trainer.trainStep() }
                let old = forger[workers] ?? (0, 0)
                forger[workers] = (max(old.rate, w.rate), max(old.perCPU, w.perCPUSecond))
            }
            guard let live, failure == nil else { continue }
            for setting in settings {
                switch live.train(setting: setting, batch: trainingBatch, seconds: trainingSeconds) {
                case .success(let (rate, threads)): peer[setting] = (max(peer[setting]?.rate ?? 0, rate), threads)
                case .failure(let why): failure = why
                }
            }
        }
        let (workers, best) = forger.max { $0.value.rate < $1.value.rate }!
        let trainer = trainers.first { $0.workers == workers }!.trainer
        let figure = TrainingFigure(rate: best.rate, perCPUSecond: best.perCPU, workers: workers,
                                    generatorParameters: trainer.generator.parameterCount,
                                    discriminatorParameters: trainer.discriminator.parameterCount)
        guard live != nil else { return (figure, nil, nil) }
        if let failure { return (figure, nil, failure.message) }
        let timed = settings.compactMap { s in
            peer[s].map { PeerFile.Training.Setting(label: s == "1" ? "1 thread" : s == "default" ? "default" : "\(s) threads",
                                                    threads: $0.threads, rate: $0.rate) }
        }
        return (figure, PeerFile.Training(batch: trainingBatch, settings: timed, openblas_coretype: nil), nil)
    }

    /// The GAN training section: a title, a one-row table with Forger's figure beside each
    /// PyTorch setting (timed live with `live`, else from `peerFile`) and the ratio to the best of
    /// them (when the peer trained at the same batch size), and notes. Lines to print.
    func trainingReport(peerFile: PeerFile?, live: LivePeers? = nil) throws -> [String] {
        let (figure, timed, why) = try measureTraining(live: live)
        guard let live else { return trainingLines(figure, peerFile: peerFile) }
        guard let timed else {
            return trainingLines(figure, peerFile: PeerFile(peers: [:], missing: ["pytorch training": why ?? "no figures"]))
        }
        let peer = PeerFile.Peer(version: live.versions["pytorch"] ?? "PyTorch", rates: [:], cold_start_s: nil,
                                 training: PeerFile.Training(batch: timed.batch, settings: timed.settings,
                                                             openblas_coretype: live.openblasCoretype))
        return trainingLines(figure, peerFile: PeerFile(peers: ["pytorch": peer], missing: [:]))
            + ["  pytorch timed live (--peer-server), its windows alternating with Forger's"]
    }

    func trainingLines(_ forger: TrainingFigure, peerFile: PeerFile?) -> [String] {
        let peer = peerFile?.peers["pytorch"]
        let settings = peer?.training?.settings ?? []
        var header = ["training", "batch", "workers", "forger it/s", "it/cpu-s"]
        var row = ["C + conv D", "\(trainingBatch)", "\(forger.workers)", fmt(forger.rate, 2), fmt(forger.perCPUSecond, 2)]
        for s in settings {
            header.append("pytorch \(s.label)\(s.label == "default" ? " (\(s.threads))" : "") it/s")
            row.append(fmt(s.rate, 2))
        }
        var notes = ["G \(forger.generatorParameters) and D \(forger.discriminatorParameters) parameters"]
        if let training = peer?.training, let top = settings.map(\.rate).max(), top > 0 {
            header.append("x pytorch best")
            if training.batch == trainingBatch {
                row.append(fmt(forger.rate / top, 2))
            } else {
                row.append("-")
                notes.append("pytorch trained at batch \(training.batch), Forger at \(trainingBatch): no ratio")
            }
            notes.append("pytorch: \(peer!.version.prefix { $0 != "," }), OpenBLAS kernels \(training.openblas_coretype ?? "its own choice")")
        } else if let why = peerFile?.missing["pytorch training"] ?? peerFile?.missing["pytorch"] {
            notes.append("pytorch: missing (\(why)); Forger's figure stands alone")
        } else {
            notes.append("pytorch: no training figures \(peers.map { "in \($0)" } ?? "(no --peers)"); Forger's figure stands alone")
        }
        return ["GAN training iterations/s: generator C + conv discriminator, Adam 2e-4 (0.5, 0.999), 1 D + 1 G step, "
                + "non-saturating, fixed real batch; best of \(workerCounts) workers, \(repeats) x \(trainingSeconds) s"]
            + table(header, [row]) + notes.map { "  " + $0 }
    }

    /// User + system CPU seconds of this process, all threads.
    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// Removes a benchmark's output and the recipe written beside it.
    static func removeWithRecipe(_ output: URL) {
        try? FileManager.default.removeItem(at: output)
        try? FileManager.default.removeItem(at: Recipe.url(besides: output))
    }

    /// Best wall time of `forger sample <model> -n 1 -o <png>` in a fresh process, over 5 runs.
    func coldStart(model: URL) -> Double? {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let png = FileManager.default.temporaryDirectory.appendingPathComponent("forger-bench-cold-\(getpid()).png")
        var best: Double? = nil
        defer { Self.removeWithRecipe(png) }
        let arguments = [exe.path, "sample", model.path, "-n", "1", "-o", png.path, "-q", "--force"]
        for _ in 0..<5 {
            try? FileManager.default.removeItem(at: png)
            // posix_spawn and waitpid straight away, as the peers' subprocess.run does (Foundation's
            // Process adds milliseconds of its own around the child).
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            let start = DispatchTime.now().uptimeNanoseconds
            guard posix_spawn(&pid, exe.path, nil, nil, &argv, environ) == 0 else {
                try? FileManager.default.removeItem(at: png)
                return nil
            }
            var status: Int32 = 0, waited: pid_t = -1
            repeat { waited = waitpid(pid, &status, 0) } while waited < 0 && errno == EINTR
            let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let exited = waited == pid && (status & 0x7f) == 0 && (status >> 8) & 0xff == 0
            if exited, FileManager.default.fileExists(atPath: png.path) { best = min(best ?? t, t) }
        }
        try? FileManager.default.removeItem(at: png)
        return best
    }

    func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    /// Columns padded to their widest cell, the first three left-aligned, the rest right-aligned.
    func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        func line(_ r: [String]) -> String {
            r.enumerated().map { c, s in c < 3 ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - s.count) + s }.joined(separator: "  ")
        }
        return [line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line)
    }
}
