import Foundation
import Tensor

/// A per-parameter update rule. State is a list of tensors per parameter (momentum buffers,
/// moments), so checkpoints can save and restore it by name.
public protocol Optimizer: AnyObject {
    /// The base learning rate; `LearningRateSchedule` scales it.
    var learningRate: Float { get set }
    /// Updates applied so far (Adam's bias correction uses it).
    var stepCount: Int { get set }
    /// Named state tensors for parameter `index`, created on first use.
    var state: [[Tensor]] { get set }
    var stateNames: [String] { get }
    /// One update of one parameter from its gradient.
    func applySingle(gradient: Tensor, parameter: inout Tensor, state: inout [Tensor], learningRate: Float)
}

extension Optimizer {
    /// One step over every parameter with the current learning rate.
    public func step(_ parameters: [Parameter], learningRate lr: Float? = nil) {
        if state.count != parameters.count {
            state = parameters.map { p in stateNames.map { _ in Tensor(zeros: p.value.shape) } }
        }
        stepCount += 1
        for (i, p) in parameters.enumerated() {
            applySingle(gradient: p.gradient, parameter: &p.value, state: &state[i], learningRate: lr ?? learningRate)
        }
    }
}

/// SGD with momentum, optionally Nesterov, as PyTorch's `torch.optim.SGD` (dampening 0):
/// v = mu * v + g; p -= lr * (g + mu * v) with Nesterov, p -= lr * v without.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public var stepCount = 0
    public var state: [[Tensor]] = []
    public var stateNames: [String] { ["momentum"] }

    public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate; self.momentum = momentum; self.nesterov = nesterov
    }

    public func applySingle(gradient: Tensor, parameter: inout Tensor, state: inout [Tensor], learningRate lr: Float) {
        let mu = momentum
        for i in 0..<parameter.count {
            let g = gradient.data[i]
            // PyTorch starts the buffer at g on the first step: v = g.
            let v = stepCount == 1 ? g : mu * state[0].data[i] + g
            state[0].data[i] = v
            parameter.data[i] -= lr * (nesterov ? g + mu * v : v)
        }
    }
}

/// Adam (Kingma & Ba) as PyTorch's `torch.optim.Adam` without weight decay; DCGAN uses
/// lr 2e-4, beta1 0.5, beta2 0.999.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float
    public var stepCount = 0
    public var state: [[Tensor]] = []
    public var stateNames: [String] { ["m", "v"] }

    public init(learningRate: Float = 2e-4, beta1: Float = 0.5, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
    }

    public func applySingle(gradient: Tensor, parameter: inout Tensor, state: inout [Tensor], learningRate lr: Float) {
        let t = Float(stepCount)
        let c1 = 1 - Foundation.pow(beta1, t), c2 = 1 - Foundation.pow(beta2, t)
        let stepSize = lr / c1, c2Root = c2.squareRoot()
        let (beta1, beta2, eps) = (beta1, beta2, eps)
        gradient.data.withUnsafeBufferPointer { g in
        parameter.data.withUnsafeMutableBufferPointer { p in
        state.withUnsafeMutableBufferPointer { moments in
        moments[0].data.withUnsafeMutableBufferPointer { m in
        moments[1].data.withUnsafeMutableBufferPointer { v in
            // Plain pointers (a captured buffer is reloaded per value); spans over the cores.
            let (g, p, m, v, count) = (g.baseAddress!, p.baseAddress!, m.baseAddress!, v.baseAddress!, p.count)
            Parallel.forSpans(count) { span in
                for i in span {
                    let gi = g[i]
                    let mi = beta1 * m[i] + (1 - beta1) * gi
                    let vi = beta2 * v[i] + (1 - beta2) * gi * gi
                    m[i] = mi; v[i] = vi
                    p[i] -= stepSize * mi / (vi.squareRoot() / c2Root + eps)
                }
            }
        }
        }
        }
        }
        }
    }
}

/// Step decay: lr(epoch) = base * factor ^ floor(epoch / every). factor 1 keeps it constant.
public struct LearningRateSchedule: Equatable, Sendable {
    public var factor: Float
    public var every: Int

    public init(factor: Float = 1, every: Int = 1) {
        precondition(every >= 1); self.factor = factor; self.every = every
    }

    public func rate(base: Float, epoch: Int) -> Float {
        factor == 1 ? base : base * Foundation.pow(factor, Float(epoch / every))
    }
}
