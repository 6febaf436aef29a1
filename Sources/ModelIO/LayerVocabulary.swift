import Tensor

/// The defaults and activation names shared by the two JSON forms of a layer: `model.json`
/// (`LayerSpec.parse`) and a training architecture (`GANArchitecture.parse` in Training).
/// A key left out means the same thing in both files.
public enum LayerDefaults {
    /// PyTorch's `nn.LeakyReLU()` default. A model.json mirrors PyTorch modules, so a
    /// leakyrelu without `slope` must compute what an `nn.LeakyReLU()` computes; DCGAN's 0.2
    /// is written out explicitly wherever it is meant (every writer in Forger writes `slope`).
    public static let leakyReLUSlope: Float = 0.01
    /// PyTorch's `nn.BatchNorm2d` defaults.
    public static let batchNormEps: Float = 1e-5
    public static let batchNormMomentum: Float = 0.1
    /// PyTorch's `nn.Dropout` default.
    public static let dropoutRate: Float = 0.5

    /// The activation a layer `type` names, with `slope` (nil: the default) for leakyrelu;
    /// nil when `type` is not an activation.
    public static func activation(type: String, slope: Float?) -> ActivationKind? {
        switch type {
        case "relu": return .relu
        case "tanh": return .tanh
        case "sigmoid": return .sigmoid
        case "identity": return .identity
        case "leakyrelu": return .leakyReLU(slope: slope ?? leakyReLUSlope)
        default: return nil
        }
    }
}
