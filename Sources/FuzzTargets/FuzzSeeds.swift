/// Fixed inputs of the fuzz targets that combine a fuzzed file with a known one.
enum FuzzSeeds {
    /// `Tests/NNTests/Fixtures/mlp/model.json` (written by `Tools/make_fixtures.py`), compacted.
    static let mlpManifest = #"""
{"format":"forger-model","version":1,"name":"mlp","description":"parity fixture: dense layers","latent":{"size":8,"distribution":{"kind":"normal"}},"output":{"channels":3,"height":4,"width":4,"range":[0,1]},"layers":[{"type":"linear","in":8,"out":32,"weight":"0.weight","bias":"0.bias"},{"type":"batchnorm","features":32,"eps":1e-05,"weight":"1.weight","bias":"1.bias","running_mean":"1.running_mean","running_var":"1.running_var"},{"type":"relu"},{"type":"linear","in":32,"out":48,"weight":"3.weight","bias":"3.bias"},{"type":"leakyrelu","slope":0.2},{"type":"linear","in":48,"out":32,"weight":"5.weight","bias":"5.bias"},{"type":"identity"},{"type":"reshape","shape":[2,4,4]},{"type":"flatten"},{"type":"linear","in":32,"out":48,"weight":"9.weight"},{"type":"reshape","shape":[3,-1,4]},{"type":"sigmoid"}],"notes":"an unknown key that loading must keep and ignore"}
"""#
}
