import Tensor

extension ModelManifest {
    /// The manifest as JSON, keys in the documented order, unknown keys kept.
    public var json: JSONValue {
        func n(_ i: Int) -> JSONValue { .number(Double(i)) }
        func f(_ x: Float) -> JSONValue { .number(Double(x)) }
        func ints(_ a: [Int]) -> JSONValue { .array(a.map(n)) }
        var latent: [String: JSONValue] = ["size": n(latentSize)]
        if let latentShape { latent["shape"] = ints(latentShape) }
        switch distribution {
        case .normal: latent["distribution"] = .object(["kind": .string("normal")])
        case .uniform(let low, let high):
            latent["distribution"] = .object(["kind": .string("uniform"), "low": f(low), "high": f(high)])
        }
        var top = extra
        top["format"] = .string(Self.formatName)
        top["version"] = n(Self.currentVersion)
        top["name"] = .string(name)
        top["description"] = .string(description)
        top["latent"] = .object(latent)
        top["output"] = .object(["channels": n(outputChannels), "height": n(outputHeight), "width": n(outputWidth),
                                 "range": .array([f(outputRange.0), f(outputRange.1)])])
        if let c = conditioning {
            var o: [String: JSONValue] = ["classes": n(c.classes), "embedding": .string(c.embedding), "join": .string(c.join.rawValue)]
            if let labels = c.labels { o["labels"] = .array(labels.map(JSONValue.string)) }
            top["conditioning"] = .object(o)
        }
        top["layers"] = .array(layers.map { $0.json })
        if let training { top["training"] = training }
        return .object(top)
    }
}

extension LayerSpec {
    var json: JSONValue {
        func n(_ i: Int) -> JSONValue { .number(Double(i)) }
        func pair(_ a: Int, _ b: Int) -> JSONValue { a == b ? n(a) : .array([n(a), n(b)]) }
        func name(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        func conv(_ type: String, _ g: ConvGeometry, _ w: String, _ b: String?) -> JSONValue {
            let p = g.padding
            let padding: JSONValue = p.top == p.bottom && p.left == p.right ? pair(p.top, p.left)
                : .array([n(p.top), n(p.bottom), n(p.left), n(p.right)])
            var o: [String: JSONValue] = ["type": .string(type), "in": n(g.inChannels), "out": n(g.outChannels),
                                          "kernel": pair(g.kernelHeight, g.kernelWidth),
                                          "stride": pair(g.strideHeight, g.strideWidth), "padding": padding,
                                          "weight": .string(w), "bias": name(b)]
            if type == "convtranspose2d" { o["output_padding"] = pair(g.outputPaddingHeight, g.outputPaddingWidth) }
            return .object(o)
        }
        switch self {
        case .linear(let i, let o, let w, let b):
            return .object(["type": .string("linear"), "in": n(i), "out": n(o), "weight": .string(w), "bias": name(b)])
        case .conv2d(let g, let w, let b): return conv("conv2d", g, w, b)
        case .convTranspose2d(let g, let w, let b): return conv("convtranspose2d", g, w, b)
        case .upsample(let s): return .object(["type": .string("upsample"), "scale": n(s)])
        case .batchNorm(let features, let eps, let w, let b, let m, let v):
            return .object(["type": .string("batchnorm"), "features": n(features), "eps": .number(Double(eps)),
                            "weight": name(w), "bias": name(b), "running_mean": .string(m), "running_var": .string(v)])
        case .reshape(let shape): return .object(["type": .string("reshape"), "shape": .array(shape.map(n))])
        case .flatten: return .object(["type": .string("flatten")])
        case .activation(.leakyReLU(let slope)):
            return .object(["type": .string("leakyrelu"), "slope": .number(Double(slope))])
        case .activation: return .object(["type": .string(typeName)])
        }
    }
}
