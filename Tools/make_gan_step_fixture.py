#!/usr/bin/env python3
"""Writes one training step of a DCGAN preset as PyTorch computes it, for the Swift trainer
to match: Tests/TrainingTests/Fixtures/<name>/ (see PresetStepParityTests.swift).

Run with Debian's python3-torch:
  /usr/bin/python3 Tools/make_gan_step_fixture.py --size 64 --width 4 --batch 4 --latent 8
  /usr/bin/python3 Tools/make_gan_step_fixture.py --size 64 --width 4 --batch 4 --latent 8 --generator upsample
  (--out DIR writes elsewhere, e.g. a width-32 run in /tmp that is too big to commit)

The networks are the pytorch/examples DCGAN pair as Forger's `dcgan<size>` preset builds it
(--generator upsample: the `dcgan-upsample<size>` preset, G growing by nearest upsampling + 3x3 conv),
initialised as that example does (conv N(0, 0.02), batch-norm weight N(1, 0.02), bias 0).
One step, with no optimiser update between the halves:
  discriminator: G(z1) in training mode, detached; D(real) and D(fake) in training mode,
                 non-saturating loss, gradients accumulated over both halves
  generator:     G(z2), D(G(z2)), non-saturating loss; gradients of G
Files (float32): config.json, weights.safetensors (G.<i>.<name>, D.<i>.<name>),
inputs.safetensors (z1, z2, real), expected.safetensors (dstep.D.<i>.<name>.grad,
gstep.G.<i>.<name>.grad, logits_real, logits_fake, fake2, loss_d, loss_g,
G.<i>.running_mean/var and D.<i>.running_mean/var after the step).
"""
import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from make_training_fixtures import write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))


def dcgan(size, channels, w, z):
    def up(i, o, k=4, s=2, p=1):
        return nn.ConvTranspose2d(i, o, k, s, p, bias=False)

    def down(i, o, k=4, s=2, p=1):
        return nn.Conv2d(i, o, k, s, p, bias=False)

    bn2, relu, leaky = nn.BatchNorm2d, nn.ReLU(), nn.LeakyReLU(0.2)
    if size == 64:
        g = [up(z, 8 * w, 4, 1, 0), bn2(8 * w), relu, up(8 * w, 4 * w), bn2(4 * w), relu,
             up(4 * w, 2 * w), bn2(2 * w), relu, up(2 * w, w), bn2(w), relu, up(w, channels), nn.Tanh()]
        d = [down(channels, w), leaky, down(w, 2 * w), bn2(2 * w), leaky, down(2 * w, 4 * w), bn2(4 * w), leaky,
             down(4 * w, 8 * w), bn2(8 * w), leaky, down(8 * w, 1, 4, 1, 0), nn.Flatten()]
    elif size == 32:
        g = [up(z, 4 * w, 4, 1, 0), bn2(4 * w), relu, up(4 * w, 2 * w), bn2(2 * w), relu,
             up(2 * w, w), bn2(w), relu, up(w, channels), nn.Tanh()]
        d = [down(channels, w), leaky, down(w, 2 * w), bn2(2 * w), leaky, down(2 * w, 4 * w), bn2(4 * w), leaky,
             down(4 * w, 1, 4, 1, 0), nn.Flatten()]
    else:
        raise SystemExit("--size must be 32 or 64")
    return nn.Sequential(*g), nn.Sequential(*d)


def upsample_generator(size, channels, w, z):
    """Forger's dcgan-upsample preset: DCGAN's first layer, then upsample x2 + 3x3 conv (padding 1)."""
    top = 8 * w if size == 64 else 4 * w
    layers = [nn.ConvTranspose2d(z, top, 4, 1, 0, bias=False), nn.BatchNorm2d(top), nn.ReLU()]
    c = top
    while c > w:
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c // 2, 3, 1, 1, bias=False),
                   nn.BatchNorm2d(c // 2), nn.ReLU()]
        c //= 2
    layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(w, channels, 3, 1, 1), nn.Tanh()]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--latent", type=int, default=8)
    ap.add_argument("--seed", type=int, default=64)
    ap.add_argument("--generator", choices=["dcgan", "upsample"], default="dcgan")
    ap.add_argument("--out")
    a = ap.parse_args()
    out = a.out or os.path.join(HERE, "..", "Tests", "TrainingTests", "Fixtures",
                                  f"{'dcgan' if a.generator == 'dcgan' else 'dcgan_upsample'}{a.size}_step")
    torch.manual_seed(a.seed)
    G, D = dcgan(a.size, a.channels, a.width, a.latent)
    if a.generator == "upsample":
        G = upsample_generator(a.size, a.channels, a.width, a.latent)
    for m in list(G) + list(D):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.1, 0.1)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    weights = {}
    for prefix, net in (("G.", G), ("D.", D)):
        for k, v in net.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                weights[prefix + k] = v.clone()
    n = a.batch
    z1, z2 = torch.randn(n, a.latent, 1, 1), torch.randn(n, a.latent, 1, 1)
    real = torch.rand(n, a.channels, a.size, a.size) * 2 - 1
    G.train(); D.train()
    bce = F.binary_cross_entropy_with_logits
    expected = {}

    fake1 = G(z1).detach()
    logits_real = D(real)
    loss_real = bce(logits_real, torch.ones_like(logits_real))
    loss_real.backward()
    logits_fake = D(fake1)
    loss_fake = bce(logits_fake, torch.zeros_like(logits_fake))
    loss_fake.backward()
    expected.update(logits_real=logits_real, logits_fake=logits_fake, loss_d=(loss_real + loss_fake).reshape(1))
    for k, p in D.named_parameters():
        expected["dstep.D." + k + ".grad"] = p.grad.clone()

    G.zero_grad(); D.zero_grad()
    fake2 = G(z2)
    logits = D(fake2)
    loss_g = bce(logits, torch.ones_like(logits))
    loss_g.backward()
    expected.update(fake2=fake2, loss_g=loss_g.reshape(1))
    for k, p in G.named_parameters():
        expected["gstep.G." + k + ".grad"] = p.grad.clone()
    for prefix, net in (("G.", G), ("D.", D)):
        for k, v in net.state_dict().items():
            if "running" in k:
                expected[prefix + k] = v.clone()

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"generator": a.generator, "size": a.size, "channels": a.channels, "width": a.width, "batch": n, "latent": a.latent}, f)
        f.write("\n")
    write_safetensors(os.path.join(out, "weights.safetensors"), weights)
    write_safetensors(os.path.join(out, "inputs.safetensors"), {"z1": z1, "z2": z2, "real": real})
    write_safetensors(os.path.join(out, "expected.safetensors"), expected)
    print("wrote", out, "torch", torch.__version__)


if __name__ == "__main__":
    main()
