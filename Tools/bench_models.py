#!/usr/bin/python3
"""The benchmark's three generators, built with PyTorch (Debian's python3-torch) from fixed seeds.

  A  the 2016 post's MNIST generator (z 16, upsample + 3x3 convs with padding 2), 1x28x28
  B  pytorch/examples DCGAN netG, nz 100, ngf 64, 3x64x64
  C  z 100 -> linear 6272 -> (128, 7, 7) -> two stride-2 transposed convs, 1x28x28

and the training row's pair (training_pair): C as a trainable generator with a small conv
discriminator, which `forger bench` builds from Training's blueprints (TrainingBenchmark).

For each it writes, under OUT/<a|b|c>/ (default .bench/models, ignored by git):
  model.json, weights.safetensors   the Forger model directory
  model.onnx                        torch.onnx.export of the same module (eval mode)
  state.pt                          the state_dict, for the PyTorch peer

Run: /usr/bin/python3 Tools/bench_models.py [OUT]   (deterministic: fixed seeds)
Imported by Tools/bench_peers.py for the module definitions.
"""
import os, sys
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import View, DCGAN, bn, dcgan_layers, randomise_bn, save_model  # noqa: E402


def model_a():
    """z 16 -> linear 4096 + BN + ReLU -> (256, 4, 4) -> up x2 -> conv 128 -> up x2 -> conv 64
    -> conv 64 -> conv 32 -> conv 1 + sigmoid; 3x3, padding 2, BN + ReLU on hidden convs."""
    chans = [128, 64, 64, 32, 1]
    mods = [nn.Linear(16, 4096), nn.BatchNorm1d(4096), nn.ReLU(), View(256, 4, 4), nn.Upsample(scale_factor=2)]
    layers = [{"type": "linear", "in": 16, "out": 4096, "weight": "0.weight", "bias": "0.bias"}, bn("1", 4096),
              {"type": "relu"}, {"type": "reshape", "shape": [256, 4, 4]}, {"type": "upsample", "scale": 2}]
    cin = 256
    for i, cout in enumerate(chans):
        idx = len(mods)
        mods.append(nn.Conv2d(cin, cout, 3, padding=2))
        layers.append({"type": "conv2d", "in": cin, "out": cout, "kernel": 3, "stride": 1, "padding": 2,
                       "weight": "%d.weight" % idx, "bias": "%d.bias" % idx})
        if cout == 1:
            mods.append(nn.Sigmoid()); layers.append({"type": "sigmoid"})
            break
        mods += [nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [bn(str(idx + 1), cout), {"type": "relu"}]
        if i == 0:
            mods.append(nn.Upsample(scale_factor=2)); layers.append({"type": "upsample", "scale": 2})
        cin = cout
    manifest = {"format": "forger-model", "version": 1, "name": "bench-a", "description": "benchmark A: the 2016 post's MNIST generator",
                "latent": {"size": 16, "distribution": {"kind": "uniform", "low": 0, "high": 1}},
                "output": {"channels": 1, "height": 28, "width": 28, "range": [0, 1]}, "layers": layers}
    return nn.Sequential(*mods), manifest, [16]


def model_b():
    manifest = {"format": "forger-model", "version": 1, "name": "bench-b", "description": "benchmark B: pytorch/examples DCGAN netG",
                "latent": {"size": 100, "shape": [100, 1, 1], "distribution": {"kind": "normal"}},
                "output": {"channels": 3, "height": 64, "width": 64, "range": [-1, 1]}, "layers": dcgan_layers(100, 64, 3)}
    return DCGAN(100, 64, 3), manifest, [100, 1, 1]


def model_c():
    """z 100 -> linear 6272 + BN + ReLU -> (128, 7, 7) -> convT(128, 64, 4, 2, 1) + BN + ReLU
    -> convT(64, 1, 4, 2, 1) + tanh."""
    m = nn.Sequential(nn.Linear(100, 6272), nn.BatchNorm1d(6272), nn.ReLU(), View(128, 7, 7),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    layers = [{"type": "linear", "in": 100, "out": 6272, "weight": "0.weight", "bias": "0.bias"}, bn("1", 6272),
              {"type": "relu"}, {"type": "reshape", "shape": [128, 7, 7]},
              {"type": "convtranspose2d", "in": 128, "out": 64, "kernel": 4, "stride": 2, "padding": 1,
               "output_padding": 0, "weight": "4.weight", "bias": "4.bias"}, bn("5", 64), {"type": "relu"},
              {"type": "convtranspose2d", "in": 64, "out": 1, "kernel": 4, "stride": 2, "padding": 1,
               "output_padding": 0, "weight": "7.weight", "bias": "7.bias"}, {"type": "tanh"}]
    manifest = {"format": "forger-model", "version": 1, "name": "bench-c", "description": "benchmark C: linear + two stride-2 transposed convs",
                "latent": {"size": 100, "distribution": {"kind": "normal"}},
                "output": {"channels": 1, "height": 28, "width": 28, "range": [-1, 1]}, "layers": layers}
    return m, manifest, [100]


def training_pair():
    """The training row's G and D in training mode, DCGAN initialisation (weights N(0, 0.02),
    batch-norm scales N(1, 0.02), biases 0), as Forger's TrainingBenchmark builds them:
      G  benchmark C (model_c)
      D  conv(1, 64, 4, 2, 1) + leaky relu 0.2 -> conv(64, 128, 4, 2, 1, no bias) + BN + leaky relu 0.2
         -> flatten -> linear(6272, 1): one logit per 1x28x28 image."""
    torch.manual_seed(14)
    g, _, _ = model_c()
    d = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                      nn.Flatten(), nn.Linear(6272, 1))
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1, 0.02)
            nn.init.zeros_(m.bias)
    return g.train(), d.train()


MODELS = {"a": model_a, "b": model_b, "c": model_c}


def build(name):
    """The module (eval mode, fixed random weights), its manifest and its latent view."""
    torch.manual_seed({"a": 11, "b": 12, "c": 13}[name])
    m, manifest, view = MODELS[name]()
    randomise_bn(m)
    return m.eval(), manifest, view


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".bench", "models")
    torch.set_num_threads(1)
    for name in MODELS:
        m, manifest, view = build(name)
        d = os.path.join(out, name)
        save_model(d, m, manifest)
        torch.save(m.state_dict(), os.path.join(d, "state.pt"))
        z = torch.zeros(1, manifest["latent"]["size"]).reshape(1, *view)
        with torch.no_grad():
            torch.onnx.export(m, z, os.path.join(d, "model.onnx"), input_names=["z"], output_names=["image"],
                              dynamic_axes={"z": {0: "n"}, "image": {0: "n"}}, opset_version=13)
        print("wrote", d)


if __name__ == "__main__":
    main()
