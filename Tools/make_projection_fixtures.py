#!/usr/bin/python3
"""Builds the projection fixtures with PyTorch autograd (Debian's python3-torch).

A small DCGAN-like generator with every kind of layer a DCGAN or upsampling generator has
(transposed convolutions, batch norm in eval mode with non-trivial running statistics, relu,
nearest upsampling + 3x3 convolution, leaky relu, tanh): z (8) -> (3, 16, 16).

Writes Tests/TrainingTests/Fixtures/projection/:
  model.json, weights.safetensors  the generator as a Forger model directory
  discriminator.safetensors        a small DCGAN-like D (conv, leaky relu, conv, batch norm
                                   in eval mode, leaky relu, 4x4 logit conv, flatten), named in
                                   model.json's "discriminator" section
  cases.safetensors                z (4, 8) latents, target (2, 3, 16, 16), and for each loss
                                   (mse, l1) with prior weight 0.05: recon_<loss> (4),
                                   prior (4) and grad_<loss> (4, 8), the gradient of
                                   sum_b [loss(G(z_b), target[b // 2]) + w (|z_b|^2 / d - 1)^2]
                                   with respect to z; feature (4) and grad_mse_feature (4, 8)
                                   with 0.5 * mean((D_4(G(z_b)) - D_4(target))^2) added, D_4
                                   being D's output after layer 4 (the second leaky relu)

Run: /usr/bin/python3 Tools/make_projection_fixtures.py   (deterministic: fixed seed)
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_model, write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TrainingTests", "Fixtures", "projection")
Z, PRIOR_WEIGHT = 8, 0.05


def generator():
    return nn.Sequential(
        nn.ConvTranspose2d(Z, 16, 4, 1, 0, bias=False), nn.BatchNorm2d(16), nn.ReLU(),   # (16, 4, 4)
        nn.Upsample(scale_factor=2), nn.Conv2d(16, 8, 3, 1, 1), nn.BatchNorm2d(8),       # (8, 8, 8)
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=True), nn.Tanh())                           # (3, 16, 16)


def discriminator():
    return nn.Sequential(
        nn.Conv2d(3, 4, 4, 2, 1), nn.LeakyReLU(0.2),                                    # (4, 8, 8)
        nn.Conv2d(4, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.LeakyReLU(0.2),      # (8, 4, 4)
        nn.Conv2d(8, 1, 4, 1, 0, bias=False), nn.Flatten())                              # (1)


D_SECTION = {"weights": "discriminator.safetensors", "input_shape": [3, 16, 16], "layers": [
    {"type": "conv2d", "out": 4, "kernel": 4, "stride": 2, "padding": 1, "bias": True},
    {"type": "leakyrelu", "slope": 0.2},
    {"type": "conv2d", "out": 8, "kernel": 4, "stride": 2, "padding": 1, "bias": False},
    {"type": "batchnorm", "eps": 1e-5, "momentum": 0.1},
    {"type": "leakyrelu", "slope": 0.2},
    {"type": "conv2d", "out": 1, "kernel": 4, "stride": 1, "padding": 0, "bias": False},
    {"type": "flatten"}]}
FEATURE_WEIGHT, FEATURE_LAYER = 0.5, 4


def manifest():
    def bn(i, f):
        return {"type": "batchnorm", "features": f, "eps": 1e-5, "weight": "%d.weight" % i, "bias": "%d.bias" % i,
                "running_mean": "%d.running_mean" % i, "running_var": "%d.running_var" % i}
    layers = [
        {"type": "convtranspose2d", "in": Z, "out": 16, "kernel": 4, "stride": 1, "padding": 0, "output_padding": 0,
         "weight": "0.weight", "bias": None},
        bn(1, 16), {"type": "relu"},
        {"type": "upsample", "scale": 2},
        {"type": "conv2d", "in": 16, "out": 8, "kernel": 3, "stride": 1, "padding": 1, "weight": "4.weight", "bias": "4.bias"},
        bn(5, 8), {"type": "leakyrelu", "slope": 0.2},
        {"type": "convtranspose2d", "in": 8, "out": 3, "kernel": 4, "stride": 2, "padding": 1, "output_padding": 0,
         "weight": "7.weight", "bias": "7.bias"},
        {"type": "tanh"},
    ]
    return {"format": "forger-model", "version": 1, "name": "projection-fixture",
            "description": "a small DCGAN-like generator for projection tests (Tools/make_projection_fixtures.py)",
            "latent": {"size": Z, "shape": [Z, 1, 1], "distribution": {"kind": "normal"}},
            "output": {"channels": 3, "height": 16, "width": 16, "range": [-1, 1]},
            "layers": layers, "discriminator": D_SECTION}


def main():
    torch.manual_seed(11)
    g = generator()
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.normal_(0, 0.3)
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5); m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.3); m.running_var.uniform_(0.5, 2.0)
    g.eval()
    d = discriminator()
    with torch.no_grad():
        for m in d.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.normal_(0, 0.3)
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5); m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.3); m.running_var.uniform_(0.5, 2.0)
    d.eval()
    os.makedirs(OUT, exist_ok=True)
    save_model(OUT, g, manifest())
    write_safetensors(os.path.join(OUT, "discriminator.safetensors"),
                      {k: v for k, v in d.state_dict().items() if "num_batches_tracked" not in k})
    features = d[:FEATURE_LAYER + 1]

    z = torch.randn(4, Z)
    with torch.no_grad():
        # Targets: images of two other latents, a little noise so no start is exact.
        target = g(torch.randn(2, Z).view(2, Z, 1, 1)) + 0.05 * torch.randn(2, 3, 16, 16)
    rows = torch.tensor([0, 0, 1, 1])
    out = {"z": z, "target": target}
    for loss in ["mse", "l1"]:
        zz = z.clone().requires_grad_(True)
        y = g(zz.view(4, Z, 1, 1))
        e = y - target[rows]
        recon = (e * e).mean(dim=(1, 2, 3)) if loss == "mse" else e.abs().mean(dim=(1, 2, 3))
        prior = PRIOR_WEIGHT * ((zz * zz).sum(dim=1) / Z - 1) ** 2
        (recon.sum() + prior.sum()).backward()
        out["recon_" + loss] = recon.detach()
        out["prior"] = prior.detach()
        out["grad_" + loss] = zz.grad.detach()
    zz = z.clone().requires_grad_(True)
    y = g(zz.view(4, Z, 1, 1))
    e = y - target[rows]
    recon = (e * e).mean(dim=(1, 2, 3))
    prior = PRIOR_WEIGHT * ((zz * zz).sum(dim=1) / Z - 1) ** 2
    feature = FEATURE_WEIGHT * ((features(y) - features(target)[rows]) ** 2).mean(dim=(1, 2, 3))
    (recon.sum() + prior.sum() + feature.sum()).backward()
    out["feature"] = feature.detach()
    out["grad_mse_feature"] = zz.grad.detach()
    write_safetensors(os.path.join(OUT, "cases.safetensors"), out)
    print("wrote", OUT, "torch", torch.__version__)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
