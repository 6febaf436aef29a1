import Tensor

/// Mode-seeking regularisation (Mao et al. 2019, "Mode Seeking Generative Adversarial
/// Networks"): a generator that draws the same image for two latents is penalised, so that a
/// conditional G cannot settle on one image per class. The generator step's batch is split
/// into pairs, row i with row i + n/2 (both of the same class when conditional), and G's loss
/// gains
///
///     weight / (ratio + 1e-5),   ratio = mean |G(z_i) - G(z_j)| / mean |z_i - z_j|
///
/// with the means taken over every value of the pairs, as the paper's code does.
public struct ModeSeeking: Equatable, Sendable, CustomStringConvertible {
    public let weight: Float
    static let epsilon: Float = 1e-5

    public init(weight: Float) {
        precondition(weight > 0, "the mode-seeking weight must be positive")
        self.weight = weight
    }

    public var description: String { "ms(\(weight))" }

    /// The term and its gradient with respect to `images` (N, ...), for latents (N, Z). With an
    /// odd N the last row has no partner and gets no gradient.
    public func term(images: Tensor, latents: Tensor) -> (loss: Float, grad: Tensor) {
        let n = images.shape[0], half = n / 2
        precondition(latents.shape[0] == n, "\(n) images for \(latents.shape[0]) latents")
        var grad = Tensor(zeros: images.shape)
        guard half > 0 else { return (0, grad) }
        let pixels = images.count / n, z = latents.count / n
        var imageDistance: Double = 0, latentDistance: Double = 0
        for i in 0..<(half * pixels) {
            imageDistance += Double(abs(images.data[i] - images.data[i + half * pixels]))
        }
        for i in 0..<(half * z) {
            latentDistance += Double(abs(latents.data[i] - latents.data[i + half * z]))
        }
        let imageMean = imageDistance / Double(half * pixels), latentMean = latentDistance / Double(half * z)
        let ratio = imageMean / max(latentMean, Double(Float.leastNormalMagnitude))
        let denominator = ratio + Double(Self.epsilon)
        // d loss / d imageMean = -weight / denominator^2 / latentMean; d imageMean / d x = sign / count.
        let scale = Float(-Double(weight) / (denominator * denominator) / latentMean / Double(half * pixels))
        for i in 0..<(half * pixels) {
            let d = images.data[i] - images.data[i + half * pixels]
            let s: Float = d > 0 ? scale : (d < 0 ? -scale : 0)
            grad.data[i] = s
            grad.data[i + half * pixels] = -s
        }
        return (Float(Double(weight) / denominator), grad)
    }

    /// Gives each pair (i, i + n/2) the class of its first row.
    static func pair(_ labels: [Int]?) -> [Int]? {
        guard var labels else { return nil }
        let half = labels.count / 2
        for i in 0..<half { labels[i + half] = labels[i] }
        return labels
    }
}
