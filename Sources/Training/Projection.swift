import Foundation
import Tensor
import NN
import ModelIO
import Imaging

// Projection: the latent whose image is closest to a given picture, found by Adam on the
// gradient of a reconstruction loss with respect to z, through the generator as sampling runs
// it (batch norm with its running statistics).

/// Why a model or a request cannot be projected.
public enum ProjectionError: Error, CustomStringConvertible, Equatable {
    /// A layer whose gradient cannot be computed; `reason` says why and what to do.
    case noGradient(layer: Int, kind: String, reason: String)
    case conditional(model: String)
    case invalidSetting(name: String, value: String, hint: String)
    case shapeMismatch(expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case let .noGradient(layer, kind, reason):
            return "layer \(layer) (\(kind)) has no gradient: \(reason)"
        case let .conditional(model):
            return "model '\(model)' is class-conditional; projection needs an unconditional generator (the class embedding is not optimised)"
        case let .invalidSetting(name, value, hint):
            return "\(name) \(value): \(hint)"
        case let .shapeMismatch(expected, actual):
            return "targets are \(describeShape(actual)) per image but the generator makes \(describeShape(expected))"
        }
    }
}

/// y = x * scale[c] + shift[c] per channel: batch norm with its running statistics folded into
/// one affine map, as a loaded model holds it. Backward: dx = dy * scale.
public final class ChannelAffineLayer: TrainableLayer {
    public let scale: [Float], shift: [Float]
    public init(scale: [Float], shift: [Float]) {
        precondition(scale.count == shift.count)
        self.scale = scale; self.shift = shift
    }
    public var kind: String { "batchnorm" }
    public func forward(_ x: Tensor, training: Bool, rng: inout RandomStream) -> Tensor {
        var y = x
        BatchNormInference.apply(&y, scale: scale, shift: shift)
        return y
    }
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        var dx = gradOutput
        BatchNormInference.apply(&dx, scale: scale, shift: [Float](repeating: 0, count: scale.count))
        return dx
    }
    /// Not exported: the layer comes from a model's statistics, it is never trained.
    public func spec(prefix: String) -> LayerSpecExport? { nil }
}

/// A loaded generator as a chain of trainable layers that backpropagates to its latents. Every
/// weight is frozen (`requiresGradient = false`), so backward computes input gradients only.
public final class DifferentiableGenerator {
    public let latentSize: Int
    /// The view of a latent before the first layer, e.g. [100, 1, 1].
    public let inputShape: [Int]
    /// Per-sample output shape, e.g. [3, 64, 64].
    public let outputShape: [Int]
    let layers: [TrainableLayer]

    /// - Throws: `ProjectionError` for conditional generators and for layers without a usable
    ///   gradient (a leaky relu with slope <= 0 cannot be undone from its output).
    public init(_ generator: Generator, name: String = "model") throws {
        guard generator.conditioning == nil else { throw ProjectionError.conditional(model: name) }
        var layers: [TrainableLayer] = []
        for (i, layer) in generator.layers.enumerated() {
            switch layer {
            case .linear(let w, let b): layers.append(DenseLayer(weight: w, bias: b))
            case .conv2d(let w, let b, let g): layers.append(Conv2dLayer(weight: w, bias: b, geometry: g))
            case .convTranspose2d(let w, let b, let g): layers.append(ConvTranspose2dLayer(weight: w, bias: b, geometry: g))
            case .upsampleNearest(let s): layers.append(UpsampleLayer(scale: s))
            case .batchNorm(let scale, let shift): layers.append(ChannelAffineLayer(scale: scale, shift: shift))
            case .reshape(let target): layers.append(ReshapeLayer(target: target))
            case .flatten: layers.append(ReshapeLayer(target: nil))
            case .activation(let a):
                if case .leakyReLU(let slope) = a, !(slope > 0) {
                    throw ProjectionError.noGradient(layer: i, kind: layer.kind,
                                                     reason: "slope \(slope) <= 0, so the backward pass cannot tell the sides apart from the output; Forger needs a positive slope")
                }
                layers.append(ActivationLayer(a))
            }
        }
        for layer in layers { for p in layer.parameters { p.parameter.requiresGradient = false } }
        self.layers = layers
        latentSize = generator.latentSize
        inputShape = generator.inputShape
        outputShape = generator.outputShape
    }

    /// Latents (N, Z) -> images (N, C, H, W), keeping what `latentGradient` needs.
    public func forward(_ z: Tensor) -> Tensor {
        precondition(z.rank == 2 && z.shape[1] == latentSize)
        var rng = RandomStream(seed: 0)       // no layer here draws: evaluation mode
        var y = z.reshaped([z.shape[0]] + inputShape)
        for layer in layers { y = layer.forward(y, training: false, rng: &rng) }
        return y
    }

    /// The gradient with respect to the latents of the last `forward` (N, Z), from the
    /// gradient with respect to its images (N, C, H, W).
    public func latentGradient(_ gradOutput: Tensor) -> Tensor {
        var g = gradOutput
        for layer in layers.reversed() { g = layer.backward(g, needInputGradient: true)! }
        return g.reshaped([g.shape[0], latentSize])
    }
}

/// How a projection runs. Defaults are the measured choices in docs/projection.md.
public struct ProjectionSettings: Equatable, Sendable {
    public enum Loss: String, CaseIterable, Sendable {
        /// Mean squared pixel error.
        case mse
        /// Mean absolute pixel error.
        case l1
    }
    public enum Decay: String, CaseIterable, Sendable {
        /// lr * (1 + cos(pi * t / T)) / 2 after the warm-up.
        case cosine
        /// lr * 0.01^(t / T) after the warm-up.
        case exponential
    }

    public static let maxSteps = 100_000
    public static let maxRestarts = 255

    /// Adam updates.
    public var steps = 300
    /// Random starts per image, besides the prior's mean.
    public var restarts = 3
    public var learningRate: Float = 0.3
    /// Share of the steps over which the learning rate ramps up linearly from lr / warm-up steps.
    public var warmup: Float = 0.05
    public var decay: Decay = .cosine
    public var loss: Loss = .mse
    /// Weight of the prior term: w * (|z|^2 / d - 1)^2 for a normal prior (keeps |z| near
    /// sqrt(d)); a uniform prior's bounds are enforced by clamping z after each step instead.
    public var priorWeight: Float = 0.01
    /// Weight of the feature loss: w * mean((D_k(G(z)) - D_k(x))^2) over the features of the
    /// discriminator given to `Projection` (0: none).
    public var featureWeight: Float = 0
    /// Seeds the random starts: image j's starts depend on (seed, j) only.
    public var seed: UInt64 = 0
    /// Latent rows pushed through the generator at once (bounds memory; rows are independent).
    public var batchSize = 64
    /// Record the best latents every this many steps (for a progress animation); 0: never.
    public var snapshotEvery = 0

    public init() {}

    public func validate() throws {
        func bad(_ name: String, _ value: String, _ hint: String) -> ProjectionError {
            .invalidSetting(name: name, value: value, hint: hint)
        }
        guard (1...Self.maxSteps).contains(steps) else { throw bad("--steps", "\(steps)", "use 1 to \(Self.maxSteps)") }
        guard (0...Self.maxRestarts).contains(restarts) else { throw bad("--restarts", "\(restarts)", "use 0 to \(Self.maxRestarts)") }
        guard learningRate.isFinite, learningRate > 0, learningRate <= 10 else { throw bad("--lr", "\(learningRate)", "use a value above 0 and at most 10, e.g. 0.1") }
        guard warmup.isFinite, warmup >= 0, warmup < 1 else { throw bad("--warmup", "\(warmup)", "a share of the steps in [0, 1), e.g. 0.05") }
        guard priorWeight.isFinite, priorWeight >= 0 else { throw bad("--prior-weight", "\(priorWeight)", "use 0 or more") }
        guard featureWeight.isFinite, featureWeight >= 0 else { throw bad("--feature-weight", "\(featureWeight)", "use 0 or more") }
        guard (1...4096).contains(batchSize) else { throw bad("--batch-size", "\(batchSize)", "use 1 to 4096") }
        guard snapshotEvery >= 0 else { throw bad("snapshot interval", "\(snapshotEvery)", "use 0 or more") }
    }

    /// The learning rate of update `t` (0-based): linear warm-up, then the decay.
    public func learningRate(step t: Int) -> Float {
        let warm = Int((warmup * Float(steps)).rounded())
        let ramp: Float = warm > 0 && t < warm ? Float(t + 1) / Float(warm) : 1
        let p = Float(t) / Float(steps)
        let factor: Float
        switch decay {
        case .cosine: factor = 0.5 * (1 + Foundation.cos(Float.pi * p))
        case .exponential: factor = Foundation.pow(0.01, p)
        }
        return learningRate * ramp * factor
    }
}

/// Receives progress and may stop a projection (Ctrl-C); the best latents so far are kept.
public protocol ProjectionReporter: AnyObject {
    /// After evaluation `step` of `total` (0...steps): the mean over images of the best
    /// objective so far.
    func stepFinished(step: Int, of total: Int, meanBest: Float, elapsed: Double)
    var shouldStop: Bool { get }
}

/// What a projection found, per image.
public struct ProjectionResult: Sendable {
    /// The best latent of each image (M, Z) as rows.
    public var latents: [[Float]]
    /// Its reconstruction loss (the chosen `Loss`), prior term and feature term.
    public var reconstruction: [Float]
    public var prior: [Float]
    public var feature: [Float]
    /// Which start won: 0 the prior's mean, 1... the random starts.
    public var bestStart: [Int]
    /// Evaluations done (steps + 1 when not interrupted) and whether Ctrl-C stopped it.
    public var evaluations: Int
    public var interrupted: Bool
    /// Steps at which snapshots were taken and each snapshot's best latents (M rows).
    public var snapshotSteps: [Int]
    public var snapshots: [[[Float]]]
    public var seconds: Double
}

/// Optimises latents toward target images with Adam, all starts of all images as one batch.
public final class Projection {
    public let generator: DifferentiableGenerator
    public let prior: LatentDistribution
    public let settings: ProjectionSettings
    /// A discriminator cut after its feature layer (`SavedDiscriminator.load(_:throughLayer:)`),
    /// frozen, in evaluation mode; used when `settings.featureWeight > 0`.
    public let features: Network?

    public init(generator: DifferentiableGenerator, prior: LatentDistribution, settings: ProjectionSettings,
                features: Network? = nil) throws {
        try settings.validate()
        if settings.featureWeight > 0 {
            guard let features else {
                throw ProjectionError.invalidSetting(name: "--feature-weight", value: "\(settings.featureWeight)",
                                                     hint: "needs the model's discriminator, and this model has none")
            }
            guard features.inputShape == generator.outputShape else {
                throw ProjectionError.shapeMismatch(expected: generator.outputShape, actual: features.inputShape)
            }
        }
        self.generator = generator; self.prior = prior; self.settings = settings
        self.features = settings.featureWeight > 0 ? features : nil
    }

    /// Starts per image: the prior's mean, then `restarts` draws from the prior.
    public var startsPerImage: Int { settings.restarts + 1 }

    /// The starting latents for `images` images: row j * startsPerImage + r.
    public func startingLatents(images: Int) -> Tensor {
        let d = generator.latentSize, s = startsPerImage
        var z = Tensor(zeros: [images * s, d])
        for j in 0..<images {
            var rng = RandomStream(seed: settings.seed, purpose: StreamPurpose.projectionStarts.rawValue, index: UInt64(j))
            for r in 0..<s {
                for k in 0..<d {
                    let v: Float
                    switch prior {
                    case .normal: v = r == 0 ? 0 : Float(rng.nextNormal())
                    case .uniform(let lo, let hi): v = r == 0 ? (lo + hi) / 2 : lo + (hi - lo) * Float(rng.nextUnit())
                    }
                    z.data[(j * s + r) * d + k] = v
                }
            }
        }
        return z
    }

    /// The objective of every latent row against its target: reconstruction, prior and feature
    /// terms per row, and (when asked) the gradient of their sum with respect to the latents
    /// (N, Z). `targets` is (M, C, H, W); row b is compared with target `rowTarget[b]`.
    public func evaluate(_ z: Tensor, targets: Tensor, rowTarget: [Int], gradient: Bool)
        -> (reconstruction: [Float], prior: [Float], feature: [Float], gradient: Tensor?) {
        let n = z.shape[0], d = generator.latentSize
        precondition(rowTarget.count == n)
        let pixels = generator.outputShape.reduce(1, *)
        var reconstruction = [Float](repeating: 0, count: n), priorTerm = [Float](repeating: 0, count: n)
        var featureTerm = [Float](repeating: 0, count: n)
        var rng = RandomStream(seed: 0)       // evaluation mode: no layer draws
        let targetFeatures = features?.forward(targets, training: false, rng: &rng)      // (M, F...)
        var grad: Tensor? = gradient ? Tensor(zeros: [n, d]) : nil
        var start = 0
        while start < n {
            let end = min(n, start + settings.batchSize)
            let y = generator.forward(z.rows(start..<end))                 // (B, C, H, W)
            var dy = gradient ? Tensor(zeros: y.shape) : Tensor(zeros: [0])
            let inv = 1 / Float(pixels)
            for b in 0..<(end - start) {
                let t = rowTarget[start + b] * pixels, o = b * pixels
                var sum: Double = 0
                for p in 0..<pixels {
                    let e = y.data[o + p] - targets.data[t + p]
                    switch settings.loss {
                    case .mse:
                        sum += Double(e * e)
                        if gradient { dy.data[o + p] = 2 * e * inv }
                    case .l1:
                        sum += Double(abs(e))
                        if gradient { dy.data[o + p] = (e > 0 ? 1 : e < 0 ? -1 : 0) * inv }
                    }
                }
                reconstruction[start + b] = Float(sum / Double(pixels))
            }
            if let features, let targetFeatures {
                let f = features.forward(y, training: false, rng: &rng)                  // (B, F...)
                let count = f.count / (end - start), w = settings.featureWeight
                var df = Tensor(zeros: f.shape)
                for b in 0..<(end - start) {
                    let t = rowTarget[start + b] * count, o = b * count
                    var sum: Double = 0
                    for k in 0..<count {
                        let e = f.data[o + k] - targetFeatures.data[t + k]
                        sum += Double(e * e)
                        df.data[o + k] = w * 2 * e / Float(count)
                    }
                    featureTerm[start + b] = w * Float(sum / Double(count))
                }
                if gradient {
                    let dx = features.inputGradient(df)
                    for i in 0..<dy.count { dy.data[i] += dx.data[i] }
                }
            }
            if gradient {
                let dz = generator.latentGradient(dy)
                for i in 0..<dz.count { grad!.data[start * d + i] = dz.data[i] }
            }
            start = end
        }
        if case .normal = prior, settings.priorWeight > 0 {
            let w = settings.priorWeight, fd = Float(d)
            for b in 0..<n {
                var sq: Float = 0
                for k in 0..<d { sq += z.data[b * d + k] * z.data[b * d + k] }
                let u = sq / fd - 1
                priorTerm[b] = w * u * u
                if gradient { for k in 0..<d { grad!.data[b * d + k] += w * 2 * u * 2 * z.data[b * d + k] / fd } }
            }
        }
        return (reconstruction, priorTerm, featureTerm, grad)
    }

    /// Projects each target (M, C, H, W, in the generator's output range) and keeps, per image,
    /// the latent with the lowest objective over every start and step. A reporter that asks to
    /// stop ends the run after the current step with the best so far.
    public func run(targets: Tensor, reporter: ProjectionReporter? = nil) throws -> ProjectionResult {
        guard targets.rank == 4, Array(targets.shape.dropFirst()) == generator.outputShape else {
            throw ProjectionError.shapeMismatch(expected: generator.outputShape, actual: Array(targets.shape.dropFirst()))
        }
        let images = targets.shape[0], s = startsPerImage, d = generator.latentSize
        let rows = images * s
        let rowTarget = (0..<rows).map { $0 / s }
        let z = Parameter(startingLatents(images: images))
        let adam = Adam(learningRate: settings.learningRate, beta1: 0.9, beta2: 0.999)
        var best = [Float](repeating: .infinity, count: rows)
        var bestRecon = best, bestPrior = best, bestFeature = best
        var bestZ = z.value
        var snapshotSteps: [Int] = [], snapshots: [[[Float]]] = []
        let started = Date()
        var evaluations = 0, interrupted = false

        func winners() -> [Int] {
            (0..<images).map { j in (0..<s).min { best[j * s + $0] < best[j * s + $1] }! }
        }
        func bestRows() -> [[Float]] {
            zip(0..<images, winners()).map { j, r in Array(bestZ.data[((j * s + r) * d)..<((j * s + r + 1) * d)]) }
        }
        for t in 0...settings.steps {
            let last = t == settings.steps
            let e = evaluate(z.value, targets: targets, rowTarget: rowTarget, gradient: !last)
            for b in 0..<rows {
                let objective = e.reconstruction[b] + e.prior[b] + e.feature[b]
                // NaN never wins: comparisons with it are false.
                if objective < best[b] {
                    best[b] = objective; bestRecon[b] = e.reconstruction[b]; bestPrior[b] = e.prior[b]; bestFeature[b] = e.feature[b]
                    for k in 0..<d { bestZ.data[b * d + k] = z.value.data[b * d + k] }
                }
            }
            evaluations = t + 1
            if settings.snapshotEvery > 0, t % settings.snapshotEvery == 0 || last {
                snapshotSteps.append(t); snapshots.append(bestRows())
            }
            if let reporter {
                let meanBest = winners().enumerated().map { best[$0.offset * s + $0.element] }.reduce(0, +) / Float(images)
                reporter.stepFinished(step: t, of: settings.steps, meanBest: meanBest, elapsed: Date().timeIntervalSince(started))
                if !last, reporter.shouldStop {
                    interrupted = true
                    if settings.snapshotEvery > 0, snapshotSteps.last != t { snapshotSteps.append(t); snapshots.append(bestRows()) }
                    break
                }
            }
            guard let g = e.gradient else { break }
            z.gradient = g
            adam.step([z], learningRate: settings.learningRate(step: t))
            if case .uniform(let lo, let hi) = prior, settings.priorWeight > 0 {
                for i in 0..<z.value.count { z.value.data[i] = min(hi, max(lo, z.value.data[i])) }
            }
        }
        let w = winners()
        return ProjectionResult(latents: bestRows(),
                                reconstruction: w.enumerated().map { bestRecon[$0.offset * s + $0.element] },
                                prior: w.enumerated().map { bestPrior[$0.offset * s + $0.element] },
                                feature: w.enumerated().map { bestFeature[$0.offset * s + $0.element] },
                                bestStart: w, evaluations: evaluations, interrupted: interrupted,
                                snapshotSteps: snapshotSteps, snapshots: snapshots,
                                seconds: Date().timeIntervalSince(started))
    }
}

extension Projection {
    /// Images already fitted to the model's size and channels as targets (M, C, H, W) in its
    /// output range: what `run` takes (`forger project` and the explorer's upload).
    public static func targets(_ images: [PixelImage], manifest m: ModelManifest) -> Tensor {
        let plane = m.outputChannels * m.outputHeight * m.outputWidth
        var targets = Tensor(zeros: [images.count, m.outputChannels, m.outputHeight, m.outputWidth])
        for (j, image) in images.enumerated() {
            precondition(image.channels == m.outputChannels && image.width == m.outputWidth && image.height == m.outputHeight)
            let values = image.toFloats(range: m.outputRange)
            for i in 0..<plane { targets.data[j * plane + i] = values[i] }
        }
        return targets
    }
}
