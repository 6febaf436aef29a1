/// Everything that can be wrong with a model directory, each message saying what, where and
/// what to do.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case notFound(name: String, searched: [String])
    case cannotRead(path: String, reason: String)
    case badManifest(path: String, reason: String)
    case unsupportedFormat(path: String, found: String, expected: String)
    case unknownLayerType(path: String, index: Int, type: String)
    case badWeights(path: String, reason: String)
    case missingTensor(path: String, layer: String, tensor: String)
    case tensorShape(path: String, layer: String, tensor: String, expected: [Int], actual: [Int])
    case integerTensor(path: String, layer: String, tensor: String, dtype: String)
    case nonFinite(path: String, tensor: String, index: Int)
    case layersDoNotChain(path: String, reason: String)
    case outputMismatch(path: String, declared: [Int], computed: [Int])
    case cannotWrite(path: String, reason: String)

    public var description: String {
        func shape(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }
        switch self {
        case .notFound(let name, let searched):
            return "no model named '\(name)': it is neither a model directory nor found in "
                + (searched.isEmpty ? "any models folder" : searched.joined(separator: ", "))
                + ". Run 'forger models' to list models, or set FORGER_MODELS to a folder of models."
        case .cannotRead(let path, let reason):
            return "\(path): cannot read (\(reason))"
        case .badManifest(let path, let reason):
            return "\(path): \(reason)"
        case .unsupportedFormat(let path, let found, let expected):
            return "\(path): unsupported \(found); expected \(expected)"
        case .unknownLayerType(let path, let index, let type):
            return "\(path): layer \(index) has unknown type \"\(type)\"; known types: linear, conv2d, convtranspose2d, "
                + "upsample, batchnorm, reshape, flatten, relu, leakyrelu, tanh, sigmoid, identity"
        case .badWeights(let path, let reason):
            return "\(path): \(reason)"
        case .missingTensor(let path, let layer, let tensor):
            return "\(path): \(layer) needs tensor '\(tensor)', which the weights file does not have"
        case .tensorShape(let path, let layer, let tensor, let expected, let actual):
            return "\(path): \(layer): tensor '\(tensor)' has shape \(shape(actual)), expected \(shape(expected))"
        case .integerTensor(let path, let layer, let tensor, let dtype):
            return "\(path): \(layer): tensor '\(tensor)' is \(dtype); layers need floating-point weights"
        case .nonFinite(let path, let tensor, let index):
            return "\(path): tensor '\(tensor)' holds a NaN or infinite value at element \(index); the weights are corrupt or diverged"
        case .layersDoNotChain(let path, let reason):
            return "\(path): \(reason)"
        case .outputMismatch(let path, let declared, let computed):
            return "\(path): 'output' declares \(shape(declared)) but the layers produce \(shape(computed))"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
