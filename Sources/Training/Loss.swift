import Foundation
import Tensor

/// GAN objectives computed from the discriminator's logits (pre-sigmoid), averaged over the
/// batch. Log-sigmoids go through a stable softplus, so large logits never give inf or NaN.
public enum GANLoss: String, CaseIterable, Sendable {
    /// D: -log D(x) - log(1 - D(G(z))); G maximises log D(G(z)) (Goodfellow's practical form).
    case nonSaturating = "non-saturating"
    /// D as above; G minimises log(1 - D(G(z))) (the original minimax game).
    case minimax
    /// D: relu(1 - l_real) + relu(1 + l_fake); G: -l_fake.
    case hinge
    /// Least squares (LSGAN, a = 0, b = c = 1): D: (l_real - 1)^2 / 2 + l_fake^2 / 2; G: (l_fake - 1)^2 / 2.
    case leastSquares = "least-squares"

    /// The discriminator's loss and its gradients with respect to both logit batches.
    public func discriminator(real: Tensor, fake: Tensor) -> (loss: Float, gradReal: Tensor, gradFake: Tensor) {
        let r = discriminatorReal(real), f = discriminatorFake(fake)
        return (r.loss + f.loss, r.grad, f.grad)
    }

    /// The real half of the discriminator's loss (the two halves add up; D sees them in turn).
    public func discriminatorReal(_ logits: Tensor) -> (loss: Float, grad: Tensor) { discriminatorHalf(logits, real: true) }

    /// The fake half of the discriminator's loss.
    public func discriminatorFake(_ logits: Tensor) -> (loss: Float, grad: Tensor) { discriminatorHalf(logits, real: false) }

    /// One half, with s = 1 for real logits and -1 for fakes: -log sigmoid(s l) = softplus(-s l),
    /// max(0, 1 - s l), or 0.5 (l - t)^2 with the target t = 1 for real and 0 for fakes; the
    /// mean over the batch, and its gradient.
    private func discriminatorHalf(_ logits: Tensor, real: Bool) -> (loss: Float, grad: Tensor) {
        var g = Tensor(zeros: logits.shape)
        let n = Float(logits.count), s: Float = real ? 1 : -1, target: Float = real ? 1 : 0
        var loss: Double = 0
        for i in 0..<logits.count {
            let l = logits.data[i]
            switch self {
            case .nonSaturating, .minimax:
                loss += Double(softplus(-s * l)); g.data[i] = -s * sigmoid(-s * l) / n
            case .hinge:
                loss += Double(max(0, 1 - s * l)); g.data[i] = s * l < 1 ? -s / n : 0
            case .leastSquares:
                loss += Double(0.5 * (l - target) * (l - target)); g.data[i] = (l - target) / n
            }
        }
        return (Float(loss / Double(n)), g)
    }

    /// The generator's loss and its gradient with respect to the fake logits.
    public func generator(fake: Tensor) -> (loss: Float, gradFake: Tensor) {
        var g = Tensor(zeros: fake.shape)
        let n = Float(fake.count)
        var loss: Double = 0
        for i in 0..<fake.count {
            let l = fake.data[i]
            switch self {
            case .nonSaturating:                 // -log sigmoid(l)
                loss += Double(softplus(-l)); g.data[i] = -sigmoid(-l) / n
            case .minimax:                       // log(1 - sigmoid(l)) = -softplus(l)
                loss -= Double(softplus(l)); g.data[i] = -sigmoid(l) / n
            case .hinge:
                loss -= Double(l); g.data[i] = -1 / n
            case .leastSquares:
                loss += Double(0.5 * (l - 1) * (l - 1)); g.data[i] = (l - 1) / n
            }
        }
        return (Float(loss / Double(n)), g)
    }
}

/// log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
@inline(__always) public func softplus(_ x: Float) -> Float { max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x))) }

/// 1 / (1 + e^-x), computed on the side that cannot overflow.
@inline(__always) public func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

/// Mean of sigmoid over a logit batch: the reported D(x) or D(G(z)).
public func meanProbability(_ logits: Tensor) -> Float {
    logits.data.reduce(0) { $0 + sigmoid($1) } / Float(max(1, logits.count))
}
