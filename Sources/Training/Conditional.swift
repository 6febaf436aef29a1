import Foundation
import Tensor
import NN

/// Class-conditional training (a cGAN): G sees its latent joined with a learned class
/// embedding, exactly as the engine's `Conditioning` joins them at inference; D sees the class
/// as extra input channels, a second learned embedding broadcast over the image.
public struct ConditionalSettings: Equatable, Sendable {
    public var classes: Int
    /// How G's class embedding joins the latent (the engine's three modes).
    public var join: Conditioning.Join
    /// Width of G's embedding; with `.multiply` it must be the latent size.
    public var embeddingSize: Int
    /// Extra input channels D gets: one per class (the learned counterpart of one-hot label
    /// maps), at most 16 by default so that many classes do not swamp D's first layer.
    public var discriminatorChannels: Int
    /// Class names for model.json (folder names), or nil.
    public var classNames: [String]?

    /// Concat joins default to one embedding value per class; multiply needs the latent size.
    public init(classes: Int, join: Conditioning.Join = .concatLatentFirst, latentSize: Int,
                embeddingSize: Int? = nil, discriminatorChannels: Int? = nil, classNames: [String]? = nil) {
        self.classes = classes; self.join = join
        self.embeddingSize = embeddingSize ?? (join == .multiply ? latentSize : classes)
        self.discriminatorChannels = discriminatorChannels ?? min(classes, 16)
        self.classNames = classNames
    }

    /// The engine's view of the joined latent for an architecture whose latent is viewed as
    /// `latentShape` (nil: flat). A concat join widens the first axis, so a view like [Z, 1, 1]
    /// becomes [Z + D, 1, 1]; a spatial view ([1, 8, 8]) cannot take extra values.
    public func joinedShape(latentSize: Int, latentShape: [Int]?) throws -> [Int] {
        if join == .multiply {
            guard embeddingSize == latentSize else {
                throw ConditionalError("the multiply join needs a class embedding of the latent size (\(latentSize)), not \(embeddingSize); drop --embedding-size or set it to \(latentSize)")
            }
            return latentShape ?? [latentSize]
        }
        let joined = latentSize + embeddingSize
        guard let shape = latentShape else { return [joined] }
        guard shape.dropFirst().allSatisfy({ $0 == 1 }) else {
            throw ConditionalError("a concat join adds \(embeddingSize) values to the latent, but the architecture views it as \(describeShape(shape)); use a flat latent or one like [\(latentSize), 1, 1], or --class-join multiply")
        }
        return [joined] + shape.dropFirst()
    }

    /// Summary for logs and model cards.
    public var summary: String {
        "\(classes) classes, G: \(join.rawValue) embedding \(embeddingSize), D: \(discriminatorChannels) label channels"
    }
}

public struct ConditionalError: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "conditional training: \(reason)" }
}

/// G's input: a latent batch (N, Z) and labels -> (N, joined), the engine's `Conditioning.apply`.
/// Backward adds the embedding's gradient and returns the latents' gradient.
public final class LatentJoin {
    public let embedding: Embedding
    public let join: Conditioning.Join
    private var latents = Tensor(zeros: [0])        // (N, Z)
    private var rows = Tensor(zeros: [0])           // (N, D): the labels' embedding rows

    public init(embedding: Embedding, join: Conditioning.Join) {
        self.embedding = embedding; self.join = join
    }

    public func forward(_ z: Tensor, labels: [Int]) -> Tensor {
        precondition(z.rank == 2 && labels.count == z.shape[0], "\(labels.count) labels for latents \(z.shape)")
        latents = z
        rows = embedding.forward(labels)
        return Conditioning(embedding: embedding.table.value, join: join).apply(z, labels: labels)
    }

    /// (N, joined) -> (N, Z); the embedding rows' gradient goes into the table's.
    @discardableResult
    public func backward(_ gradJoined: Tensor) -> Tensor {
        let n = latents.shape[0], z = latents.shape[1], d = embedding.size
        let g = gradJoined.reshaped([n, gradJoined.count / max(1, n)])
        var dz = Tensor(zeros: [n, z]), de = Tensor(zeros: [n, d])
        for i in 0..<n {
            switch join {
            case .concatLatentFirst:
                for k in 0..<z { dz.data[i * z + k] = g.data[i * (z + d) + k] }
                for k in 0..<d { de.data[i * d + k] = g.data[i * (z + d) + z + k] }
            case .concatLabelFirst:
                for k in 0..<d { de.data[i * d + k] = g.data[i * (z + d) + k] }
                for k in 0..<z { dz.data[i * z + k] = g.data[i * (z + d) + d + k] }
            case .multiply:                          // y = z * e: dz = g * e, de = g * z
                for k in 0..<z {
                    dz.data[i * z + k] = g.data[i * z + k] * rows.data[i * d + k]
                    de.data[i * d + k] = g.data[i * z + k] * latents.data[i * z + k]
                }
            }
        }
        embedding.backward(de)
        return dz
    }
}

/// D's input: images (N, C, H, W) and labels -> (N, C + E, H, W), the labels' embedding rows
/// broadcast over every pixel as E extra channels (flat samples (N, F) get E extra features).
public final class LabelChannels {
    public let embedding: Embedding
    private var inputShape: [Int] = []

    public init(embedding: Embedding) { self.embedding = embedding }

    public func forward(_ x: Tensor, labels: [Int]) -> Tensor {
        let n = x.shape[0], c = x.shape[1], plane = x.count / max(1, n * c), e = embedding.size
        precondition(labels.count == n, "\(labels.count) labels for a batch of \(n)")
        inputShape = x.shape
        let rows = embedding.forward(labels)
        var out = [Float](repeating: 0, count: n * (c + e) * plane)
        for i in 0..<n {
            let src = i * c * plane, dst = i * (c + e) * plane
            out.replaceSubrange(dst..<(dst + c * plane), with: x.data[src..<(src + c * plane)])
            for k in 0..<e {
                let v = rows.data[i * e + k], base = dst + (c + k) * plane
                for p in 0..<plane { out[base + p] = v }
            }
        }
        var shape = x.shape
        shape[1] = c + e
        return Tensor(shape: shape, data: out)
    }

    /// (N, C + E, H, W) -> (N, C, H, W); each extra channel's sum over its pixels goes into the
    /// gradient of its label's embedding row.
    @discardableResult
    public func backward(_ gradOutput: Tensor) -> Tensor {
        let n = inputShape[0], c = inputShape[1], e = embedding.size
        let plane = gradOutput.count / max(1, n * (c + e))
        var dx = [Float](repeating: 0, count: n * c * plane)
        var de = Tensor(zeros: [n, e])
        for i in 0..<n {
            let src = i * (c + e) * plane
            dx.replaceSubrange((i * c * plane)..<((i + 1) * c * plane), with: gradOutput.data[src..<(src + c * plane)])
            for k in 0..<e {
                var s: Double = 0
                let base = src + (c + k) * plane
                for p in 0..<plane { s += Double(gradOutput.data[base + p]) }
                de.data[i * e + k] = Float(s)
            }
        }
        embedding.backward(de)
        return Tensor(shape: inputShape, data: dx)
    }
}
