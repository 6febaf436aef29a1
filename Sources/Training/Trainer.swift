import Foundation
import Safety
import Tensor
import NN
import ModelIO

/// Where real samples come from: a fixed image set, or a distribution (the 1-D toy).
public protocol RealSamples {
    /// Per-sample shape, e.g. [1, 28, 28] or [1].
    var sampleShape: [Int] { get }
    /// Real batches that make one epoch.
    func batchesPerEpoch(batchSize: Int) -> Int
    /// Real batch number `number` (counted from the start of training), in `range`.
    func batch(number: Int, size: Int, range: (Float, Float), rng: inout RandomStream) -> Tensor
    /// Classes the labels run over (0 for unlabelled samples).
    var classCount: Int { get }
    /// The class of each sample in real batch `number`, in batch order; nil when unlabelled.
    func labels(number: Int, size: Int) -> [Int]?
}

extension RealSamples {
    public var classCount: Int { 0 }
    public func labels(number: Int, size: Int) -> [Int]? { nil }
}

/// An image set seen in a fresh seeded order every epoch, optionally with random flips.
public final class ShuffledImages: RealSamples {
    public let dataset: ImageDataset
    public let seed: UInt64
    public let flips: Bool
    private var order: (epoch: Int, permutation: [Int]) = (-1, [])

    public init(_ dataset: ImageDataset, seed: UInt64, flips: Bool) {
        self.dataset = dataset; self.seed = seed; self.flips = flips
    }

    public var sampleShape: [Int] { [dataset.channels, dataset.height, dataset.width] }

    public func batchesPerEpoch(batchSize: Int) -> Int { max(1, dataset.count / batchSize) }

    public func batch(number: Int, size: Int, range: (Float, Float), rng: inout RandomStream) -> Tensor {
        let flip = flips ? (0..<size).map { _ in rng.next() & 1 == 1 } : nil
        return dataset.batch(indices(number: number, size: size), range: range, flip: flip)
    }

    public var classCount: Int { dataset.labels == nil ? 0 : max(dataset.classCount, dataset.classNames?.count ?? 0) }

    public func labels(number: Int, size: Int) -> [Int]? {
        dataset.labels.map { all in indices(number: number, size: size).map { all[$0] } }
    }

    /// Which images make real batch `number`: one seeded permutation per epoch.
    private func indices(number: Int, size: Int) -> [Int] {
        let perEpoch = batchesPerEpoch(batchSize: size)
        let epoch = number / perEpoch, start = (number % perEpoch) * size
        if order.epoch != epoch {
            var r = RandomStream(seed: seed, purpose: StreamPurpose.epochOrder.rawValue, index: UInt64(epoch))
            order = (epoch, r.permutation(dataset.count))
        }
        return (0..<size).map { order.permutation[(start + $0) % dataset.count] }
    }
}

extension LatentDistribution {
    /// A (count, size) batch of latents from training's stream, computed in Float (Latent's
    /// seeded sampler computes in Double; each keeps its own bits). `stratified`: evenly
    /// spaced over a uniform prior's [low, high] plus a little uniform jitter (the 1-D toy's
    /// noise); a normal prior ignores it.
    public func sample(count: Int, size: Int, stratified: Bool = false, rng: inout RandomStream) -> Tensor {
        var t = Tensor(zeros: [count, size])
        for i in 0..<t.count {
            switch self {
            case .normal: t.data[i] = Float(rng.nextNormal())
            case .uniform(let lo, let hi) where stratified:
                let n = t.count
                t.data[i] = lo + (hi - lo) * Float(i) / Float(max(1, n - 1)) + 0.01 * Float(rng.nextUnit())
            case .uniform(let lo, let hi): t.data[i] = lo + (hi - lo) * Float(rng.nextUnit())
            }
        }
        return t
    }
}

/// How an optimizer is made; checkpoints record it.
public enum OptimizerChoice: Equatable, Sendable {
    case adam(learningRate: Float, beta1: Float, beta2: Float)
    case sgd(learningRate: Float, momentum: Float, nesterov: Bool)

    public func make() -> Optimizer {
        switch self {
        case .adam(let lr, let b1, let b2): return Adam(learningRate: lr, beta1: b1, beta2: b2)
        case .sgd(let lr, let m, let n): return SGD(learningRate: lr, momentum: m, nesterov: n)
        }
    }

    public var summary: String {
        switch self {
        case .adam(let lr, let b1, let b2): return "adam lr \(lr) beta1 \(b1) beta2 \(b2)"
        case .sgd(let lr, let m, let n): return "sgd lr \(lr) momentum \(m)\(n ? " nesterov" : "")"
        }
    }
}

/// Everything that decides a training run besides the data. Equal configs + equal data +
/// equal step => equal weights, bit for bit, on one machine.
public struct TrainingConfig: Equatable, Sendable {
    public var architecture: GANArchitecture
    public var batchSize = 64
    /// Discriminator steps per generator step.
    public var discriminatorSteps = 1
    public var loss: GANLoss = .nonSaturating
    public var generatorOptimizer: OptimizerChoice = .adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999)
    public var discriminatorOptimizer: OptimizerChoice = .adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999)
    /// Decay of both learning rates, per epoch of real batches.
    public var schedule = LearningRateSchedule()
    public var initialisation: Initialisation = .dcgan
    /// How latents are drawn; with `stratifiedNoise`, evenly spaced over a uniform prior.
    public var prior: LatentDistribution = .normal
    public var stratifiedNoise = false
    public var seed: UInt64 = 0
    /// Images in the fixed noise batch used for progress samples.
    public var sampleCount = 64
    /// Class-conditional training (the data must be labelled), or nil.
    public var conditional: ConditionalSettings?
    /// Decay of the generator's weight average (`WeightAverage`), or nil to export the live
    /// generator as it stands after the last step.
    public var averageDecay: Float?
    /// Mode-seeking term added to G's loss (`ModeSeeking`), or nil.
    public var modeSeeking: ModeSeeking?

    public init(architecture: GANArchitecture) { self.architecture = architecture }

    /// A one-line fingerprint stored in checkpoints, so a resume with other settings is refused.
    public var fingerprint: String {
        "\(architecture)|\(batchSize)|\(discriminatorSteps)|\(loss)|\(generatorOptimizer)|\(discriminatorOptimizer)|\(schedule)|\(initialisation)|\(priorText)|\(seed)"
            + (conditional.map { "|\($0)" } ?? "") + (averageDecay.map { "|ema(\($0))" } ?? "")
            + (modeSeeking.map { "|\($0)" } ?? "")
    }

    /// The prior as fingerprints have always written it (the toy's noise as "stratified(...)").
    private var priorText: String {
        if stratifiedNoise, case .uniform(let lo, let hi) = prior { return "stratified(low: \(lo), high: \(hi))" }
        return "\(prior)"
    }
}

/// What one generator step measured.
public struct StepStats: Sendable {
    public var step: Int
    public var epoch: Double
    public var discriminatorLoss: Float
    public var generatorLoss: Float
    /// Mean D(x) on the last real batch and D(G(z)) on the generator step's fakes.
    public var realScore: Float
    public var fakeScore: Float
    public var learningRate: Float
}

/// The GAN loop: k discriminator steps, then one generator step.
public final class GANTrainer {
    public let config: TrainingConfig
    public let generator: Network
    public let discriminator: Network
    public let data: RealSamples
    public let generatorOptimizer: Optimizer
    public let discriminatorOptimizer: Optimizer
    /// Generator steps done.
    public private(set) var step = 0
    public let fixedNoise: Tensor       // (S, Z)
    /// Conditional training: G's class embedding joined to its latents, D's as extra input channels.
    public let latentJoin: LatentJoin?
    public let labelChannels: LabelChannels?
    /// Classes of the fixed noise batch: 0, 1, ..., classes - 1, 0, 1, ... (nil: unconditional).
    public let fixedLabels: [Int]?
    /// The average of `averagedTensors` that samples and the exported model use, or nil.
    public private(set) var average: WeightAverage?
    public var range: (Float, Float) { config.architecture.outputRange }

    public init(config: TrainingConfig, data: RealSamples) throws {
        let arch = config.architecture
        var rg = RandomStream(seed: config.seed, purpose: StreamPurpose.initialiseGenerator.rawValue, index: 0)
        var rd = RandomStream(seed: config.seed, purpose: StreamPurpose.initialiseDiscriminator.rawValue, index: 0)
        var generatorInput = arch.latentShape ?? [arch.latentSize], discriminatorInput = data.sampleShape
        if let decay = config.averageDecay, !(decay > 0 && decay < 1) {
            throw ArchitectureError(path: arch.name, reason: "the weight average's decay must lie between 0 and 1 (such as 0.999), not \(decay)")
        }
        if let cond = config.conditional {
            guard data.classCount > 0 else {
                throw ConditionalError("the data has no labels; give --labels with IDX or .npy images, or put each class's PNGs in its own subfolder")
            }
            guard cond.classes >= 2 else {
                throw ConditionalError("\(cond.classes) class; a conditional model needs at least 2 (the labels hold only class 0)")
            }
            guard data.classCount <= cond.classes else {
                throw ConditionalError("the labels run up to class \(data.classCount - 1) but the model has \(cond.classes) classes")
            }
            guard cond.embeddingSize >= 1, cond.discriminatorChannels >= 1 else {
                throw ConditionalError("embedding sizes must be at least 1")
            }
            generatorInput = try cond.joinedShape(latentSize: arch.latentSize, latentShape: arch.latentShape)
            discriminatorInput[0] += cond.discriminatorChannels
        }
        do {
            generator = try Network(inputShape: generatorInput, blueprints: arch.generator,
                                    initialisation: config.initialisation, rng: &rg)
        } catch let e as Network.BuildError { throw ArchitectureError(path: arch.name, reason: "generator \(e)") }
        guard generator.outputShape == data.sampleShape else {
            throw ArchitectureError(path: arch.name, reason: "the generator makes \(describeShape(generator.outputShape)) but the data is \(describeShape(data.sampleShape)); pick the preset or --image-size/--channels that match")
        }
        do {
            discriminator = try Network(inputShape: discriminatorInput, blueprints: arch.discriminator,
                                        initialisation: config.initialisation, rng: &rd)
        } catch let e as Network.BuildError { throw ArchitectureError(path: arch.name, reason: "discriminator \(e)") }
        guard discriminator.outputShape == [1] else {
            throw ArchitectureError(path: arch.name, reason: "the discriminator must end in one logit per image (1), it ends in \(describeShape(discriminator.outputShape)); end it with a linear(1) or a conv to 1x1 and a flatten")
        }
        self.config = config
        self.data = data
        generatorOptimizer = config.generatorOptimizer.make()
        discriminatorOptimizer = config.discriminatorOptimizer.make()
        var rn = RandomStream(seed: config.seed, purpose: StreamPurpose.fixedNoise.rawValue, index: 0)
        fixedNoise = config.prior.sample(count: config.sampleCount, size: arch.latentSize, stratified: config.stratifiedNoise, rng: &rn)
        if let cond = config.conditional {
            // N(0, 1) as PyTorch's nn.Embedding starts.
            var re = RandomStream(seed: config.seed, purpose: StreamPurpose.initialiseEmbeddings.rawValue, index: 0)
            func table(_ width: Int) -> Embedding {
                Embedding(table: Tensor(shape: [cond.classes, width], data: (0..<(cond.classes * width)).map { _ in Float(re.nextNormal()) }))
            }
            latentJoin = LatentJoin(embedding: table(cond.embeddingSize), join: cond.join)
            labelChannels = LabelChannels(embedding: table(cond.discriminatorChannels))
            fixedLabels = (0..<config.sampleCount).map { $0 % cond.classes }
        } else {
            latentJoin = nil; labelChannels = nil; fixedLabels = nil
        }
        if let decay = config.averageDecay {
            average = WeightAverage(decay: decay, following: averagedTensors.map(\.parameter))
        }
    }

    /// G's trained tensors by checkpoint name: the network's, then its class embedding.
    public var generatorParameters: [(name: String, parameter: Parameter)] {
        generator.namedParameters + (latentJoin.map { [("embedding", $0.embedding.table)] } ?? [])
    }

    /// D's trained tensors by checkpoint name: the network's, then its label-channel embedding.
    public var discriminatorParameters: [(name: String, parameter: Parameter)] {
        discriminator.namedParameters + (labelChannels.map { [("embedding", $0.embedding.table)] } ?? [])
    }

    /// What the weight average follows: G's trained tensors and its batch-norm statistics.
    public var averagedTensors: [(name: String, parameter: Parameter)] {
        generatorParameters + generator.namedBuffers
    }

    /// Runs `body` with the averaged generator in place (the live one without an average).
    public func withExportedGenerator<T>(_ body: () throws -> T) rethrows -> T {
        guard let average else { return try body() }
        return try average.withAverage(in: averagedTensors.map(\.parameter), body)
    }

    public var batchesPerEpoch: Int { data.batchesPerEpoch(batchSize: config.batchSize) }
    public var epoch: Double { Double(step * config.discriminatorSteps) / Double(batchesPerEpoch) }

    /// One generator step (after k discriminator steps).
    @discardableResult
    public func trainStep() -> StepStats {
        let c = config, b = c.batchSize, z = c.architecture.latentSize
        var rng = RandomStream(seed: c.seed, purpose: StreamPurpose.step.rawValue, index: UInt64(step))
        // Fakes' classes come from a stream of their own, so unconditional runs draw as before.
        var labelRng = RandomStream(seed: c.seed, purpose: StreamPurpose.fakeLabels.rawValue, index: UInt64(step))
        let lrFactor = c.schedule.rate(base: 1, epoch: Int(epoch))
        var dLoss: Float = 0, realScore: Float = 0
        let dParameters = discriminatorParameters.map(\.parameter), gParameters = generatorParameters.map(\.parameter)
        for k in 0..<c.discriminatorSteps {
            let number = step * c.discriminatorSteps + k
            let real = data.batch(number: number, size: b, range: range, rng: &rng)
            let realLabels = latentJoin == nil ? nil : data.labels(number: number, size: b)
            let fakeLabels = sampleLabels(b, rng: &labelRng)
            let fake = generate(c.prior.sample(count: b, size: z, stratified: c.stratifiedNoise, rng: &rng), labels: fakeLabels, training: true, rng: &rng)
            for p in dParameters { p.zeroGradient() }
            let realLogits = discriminate(real, labels: realLabels, rng: &rng)                 // (N, 1)
            let r = c.loss.discriminatorReal(realLogits)
            discriminatorBackward(r.grad)
            let fakeLogits = discriminate(fake, labels: fakeLabels, rng: &rng)                 // (N, 1)
            let f = c.loss.discriminatorFake(fakeLogits)
            discriminatorBackward(f.grad)
            discriminatorOptimizer.step(dParameters, learningRate: discriminatorOptimizer.learningRate * lrFactor)
            dLoss = r.loss + f.loss
            realScore = meanProbability(realLogits)
        }
        for p in gParameters { p.zeroGradient() }
        var labels = sampleLabels(b, rng: &labelRng)
        if c.modeSeeking != nil { labels = ModeSeeking.pair(labels) }
        let latents = c.prior.sample(count: b, size: z, stratified: c.stratifiedNoise, rng: &rng)
        let fake = generate(latents, labels: labels, training: true, rng: &rng)
        let logits = discriminate(fake, labels: labels, rng: &rng)
        let g = c.loss.generator(fake: logits)
        var gradFake = discriminatorInputGradient(g.gradFake)
        if let modeSeeking = c.modeSeeking {
            let extra = modeSeeking.term(images: fake, latents: latents).grad
            for i in gradFake.data.indices { gradFake.data[i] += extra.data[i] }
        }
        generatorBackward(gradFake)
        generatorOptimizer.step(gParameters, learningRate: generatorOptimizer.learningRate * lrFactor)
        step += 1
        average?.update(averagedTensors.map(\.parameter), afterStep: step)
        return StepStats(step: step, epoch: epoch, discriminatorLoss: dLoss, generatorLoss: g.loss,
                         realScore: realScore, fakeScore: meanProbability(logits),
                         learningRate: generatorOptimizer.learningRate * lrFactor)
    }

    /// The exported generator's outputs for the fixed noise batch (the weight average when
    /// there is one; running batch-norm statistics): (S, C, H, W).
    public func samples() -> Tensor {
        var rng = RandomStream(seed: 0)
        return withExportedGenerator { generate(fixedNoise, labels: fixedLabels, training: false, rng: &rng) }
    }

    // MARK: Conditioning

    /// Uniform classes for a batch of fakes, or nil when unconditional.
    func sampleLabels(_ count: Int, rng: inout RandomStream) -> [Int]? {
        guard let classes = config.conditional?.classes else { return nil }
        return (0..<count).map { _ in rng.nextIndex(classes) }
    }

    /// G(z), or G(z joined with the labels' embedding) for a conditional model.
    func generate(_ z: Tensor, labels: [Int]?, training: Bool, rng: inout RandomStream) -> Tensor {
        guard let latentJoin, let labels else { return generator.forward(z, training: training, rng: &rng) }
        return generator.forward(latentJoin.forward(z, labels: labels), training: training, rng: &rng)
    }

    /// D(x), or D(x with the labels' channels) for a conditional model.
    func discriminate(_ x: Tensor, labels: [Int]?, rng: inout RandomStream) -> Tensor {
        guard let labelChannels, let labels else { return discriminator.forward(x, training: true, rng: &rng) }
        return discriminator.forward(labelChannels.forward(x, labels: labels), training: true, rng: &rng)
    }

    /// Backpropagates through D (and its label channels); returns the image's gradient when asked.
    @discardableResult
    func discriminatorBackward(_ grad: Tensor, needInputGradient: Bool = false) -> Tensor? {
        guard let labelChannels else { return discriminator.backward(grad, needInputGradient: needInputGradient) }
        return labelChannels.backward(discriminator.backward(grad, needInputGradient: true)!)
    }

    /// The generator step's way through D: the gradient with respect to D's image input. D's
    /// layers skip their weight gradients (the next discriminator step zeroes them anyway, so
    /// every trained value is bit for bit as when they were computed); a conditional D's label
    /// embedding still gets its small gradient, which that zeroing discards too.
    func discriminatorInputGradient(_ grad: Tensor) -> Tensor {
        let dx = discriminator.inputGradient(grad)
        guard let labelChannels else { return dx }
        return labelChannels.backward(dx)
    }

    /// Backpropagates through G (and its class embedding).
    func generatorBackward(_ grad: Tensor) {
        guard let latentJoin else { generator.backward(grad); return }
        latentJoin.backward(generator.backward(grad, needInputGradient: true)!)
    }

    // MARK: Checkpoints

    /// Writes G, D, both optimizers' states and the step to one safetensors file, atomically.
    /// Every random stream is derived from (seed, step), so the step is the whole RNG state.
    public func saveCheckpoint(to url: URL) throws {
        var tensors: [(name: String, record: TensorRecord)] = []
        func add(_ prefix: String, _ params: [(name: String, parameter: Parameter)], _ net: Network, _ opt: Optimizer) {
            for (name, p) in params + net.namedBuffers { tensors.append((prefix + name, TensorRecord(p.value))) }
            for (i, state) in opt.state.enumerated() {
                for (j, s) in state.enumerated() { tensors.append(("\(prefix)opt.\(params[i].name).\(opt.stateNames[j])", TensorRecord(s))) }
            }
        }
        add("G.", generatorParameters, generator, generatorOptimizer)
        add("D.", discriminatorParameters, discriminator, discriminatorOptimizer)
        if let average {
            for ((name, _), value) in zip(averagedTensors, average.values) { tensors.append(("G_ema.\(name)", TensorRecord(value))) }
        }
        let next = RandomStream(seed: config.seed, purpose: StreamPurpose.step.rawValue, index: UInt64(step))
        let meta = ["format": "forger-checkpoint", "step": "\(step)", "seed": "\(config.seed)",
                    "rng_state": "\(next.state)", "G.opt_steps": "\(generatorOptimizer.stepCount)",
                    "D.opt_steps": "\(discriminatorOptimizer.stepCount)", "config": config.fingerprint]
        try AtomicFile.write(SafeTensors.encode(tensors, metadata: meta), to: url)
    }

    /// Restores a checkpoint written by `saveCheckpoint` for the same config.
    public func loadCheckpoint(from url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CheckpointError(.io, path: url.path, "cannot read it (\(error.localizedDescription))", hint: "Check --resume's path.")
        }
        let records = try SafeTensors.decode(data, path: url.path)
        let meta = try checkpointMetadata(data, path: url.path)
        guard meta["format"] == "forger-checkpoint", let stepText = meta["step"], let savedStep = Int(stepText) else {
            throw CheckpointError(.notACheckpoint, path: url.path, "not a Forger training checkpoint", hint: "")
        }
        guard meta["config"] == config.fingerprint else {
            throw CheckpointError(.otherSettings, path: url.path, "it was written with other training settings",
                                  hint: "Resume with the same preset, data size, seed, batch size, k, loss and optimizer options as the original run.")
        }
        let byName = Dictionary(records.map { ($0.name, $0.record) }, uniquingKeysWith: { a, _ in a })
        func take(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let r = byName[name], r.shape == shape else {
                throw CheckpointError(.badTensor, path: url.path, at: name, "missing, or another shape than \(shape)", hint: "")
            }
            return r.tensor
        }
        func restore(_ prefix: String, _ params: [(name: String, parameter: Parameter)], _ net: Network, _ opt: Optimizer,
                     steps: String?) throws {
            for (name, p) in params + net.namedBuffers { p.value = try take(prefix + name, p.value.shape) }
            opt.stepCount = Int(steps ?? "") ?? 0
            opt.state = opt.stepCount == 0 ? [] : try params.map { name, p in
                try opt.stateNames.map { try take("\(prefix)opt.\(name).\($0)", p.value.shape) }
            }
        }
        try restore("G.", generatorParameters, generator, generatorOptimizer, steps: meta["G.opt_steps"])
        try restore("D.", discriminatorParameters, discriminator, discriminatorOptimizer, steps: meta["D.opt_steps"])
        if let average {
            average.values = try averagedTensors.map { name, p in try take("G_ema.\(name)", p.value.shape) }
        }
        step = savedStep
    }

    // MARK: Export

    /// The generator as a Forger model directory (model.json + weights.safetensors), its
    /// weight average when training keeps one; a
    /// conditional one declares its class embedding ("embedding") in model.json's conditioning.
    /// Its discriminator goes beside it (`SavedDiscriminator`, with the label channels of a
    /// conditional one), written before the manifest that names it.
    public func exportModel(to directory: URL, name: String, description: String, training: JSONValue?) throws {
        try withExportedGenerator { try exportModelAsItStands(to: directory, name: name, description: description, training: training) }
    }

    private func exportModelAsItStands(to directory: URL, name: String, description: String, training: JSONValue?) throws {
        if !FileManager.default.fileExists(atPath: directory.path) {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        }
        try AtomicFile.write(SavedDiscriminator.encodedWeights(of: discriminator, labelChannels: labelChannels),
                             to: directory.appendingPathComponent(SavedDiscriminator.weightsFile))
        let extra = [SavedDiscriminator.key: SavedDiscriminator.section(for: discriminator, labelChannels: labelChannels)]
        var (specs, tensors) = generator.exportSpecs()
        var conditioning: ConditioningSpec? = nil
        if let latentJoin, let cond = config.conditional {
            conditioning = ConditioningSpec(classes: cond.classes, embedding: "embedding", join: cond.join, labels: cond.classNames)
            tensors.insert(("embedding", TensorRecord(latentJoin.embedding.table.value)), at: 0)
        }
        let out = generator.outputShape
        let arch = config.architecture
        let distribution = config.prior
        let manifest = ModelManifest(name: name, description: description, latentSize: arch.latentSize,
                                     latentShape: arch.latentShape == nil ? nil : generator.inputShape,   // the joined latent's view
                                     distribution: distribution,
                                     outputChannels: out[0], outputHeight: out.count > 1 ? out[1] : 1,
                                     outputWidth: out.count > 2 ? out[2] : 1, outputRange: range,
                                     conditioning: conditioning, layers: specs, training: training, extra: extra)
        try ModelStore.save(manifest, tensors: tensors, to: directory)
    }
}

/// The "__metadata__" strings of a safetensors file.
func checkpointMetadata(_ data: Data, path: String) throws -> [String: String] {
    let bytes = [UInt8](data.prefix(8))
    guard bytes.count == 8 else { throw CheckpointError(.truncated, path: path, "no safetensors header", hint: "") }
    let length = bytes.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    guard length > 0, 8 + length <= data.count,
          case .object(let top)? = try? JSONDecoder().decode(JSONValue.self, from: data.subdata(in: 8..<(8 + length))) else {
        throw CheckpointError(.notACheckpoint, path: path, "the safetensors header is unreadable", hint: "")
    }
    guard case .object(let meta)? = top["__metadata__"] else { return [:] }
    return meta.compactMapValues { if case .string(let s) = $0 { return s } else { return nil } }
}
