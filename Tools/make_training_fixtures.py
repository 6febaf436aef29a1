#!/usr/bin/env python3
"""Writes Tests/TrainingTests/Fixtures/gan_small: a small G + D in PyTorch with fixed weights,
inputs, and the gradients autograd computes for one generator step and one discriminator step.

Run with Debian's python3-torch:  /usr/bin/python3 Tools/make_training_fixtures.py
Files (float32):
  weights.safetensors   G.<i>.<name> and D.<i>.<name>, PyTorch Sequential naming
  inputs.safetensors    z (N, Z), real (N, 1, 8, 8)
  expected.safetensors  <net>.<i>.<name>.grad for the generator step (G and D grads),
                        realstep.D.<i>.<name>.grad for the discriminator's real half,
                        fake (N, 1, 8, 8), logits_fake (N, 1), loss_g, loss_d_real,
                        G.<i>.running_mean/var after the training-mode forward,
                        adam.G.<i>.<name>: G's parameters after one Adam step (lr 2e-4, betas 0.5, 0.999)

It also writes Tests/TrainingTests/Fixtures/gan_cond: a class-conditional G + D as
`forger train --conditional` builds them. G (and GM, the same with the multiply join) embeds the
label and joins it to z (concat-latent-first: cat(z, emb(y)); multiply: z * emb(y)), viewed as
(J, 1, 1); D embeds the label too and concatenates it, broadcast over the image, as extra input
channels. Names: <net>.<i>.<name> for layers, <net>.embedding for the tables. Files:
  weights.safetensors   G.*, GM.*, D.*
  inputs.safetensors    z (N, Z), labels (N) as floats, real (N, 1, 8, 8), real_labels (N)
  expected.safetensors  <G|GM>.fake, <G|GM>.logits_fake, <G|GM>.loss_g, <G|GM>.grad.<net>.<name>
                        for the generator step through D (D's gradients included),
                        realstep.loss_d_real and realstep.D.<name>.grad for D's real half,
                        ms.loss and ms.grad.G.<name>: G's step with a mode-seeking term of weight 0.5
"""
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TrainingTests", "Fixtures")
OUT = os.path.join(FIXTURES, "gan_small")


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(2016)
    Z, N = 6, 5
    # Mirrors the Swift blueprints in TrainingTests/PyTorchParityTests.swift layer for layer.
    G = nn.Sequential(
        nn.Linear(Z, 3 * 4 * 4), nn.BatchNorm1d(48), nn.ReLU(), nn.Unflatten(1, (3, 4, 4)),   # (N, 3, 4, 4)
        nn.Upsample(scale_factor=2, mode="nearest"),                                          # (N, 3, 8, 8)
        nn.Conv2d(3, 4, 3, 1, 2), nn.BatchNorm2d(4), nn.ReLU(),                                # (N, 4, 10, 10)
        nn.Conv2d(4, 2, 4, 2, 1, bias=False), nn.BatchNorm2d(2), nn.LeakyReLU(0.2),            # (N, 2, 5, 5)
        nn.ConvTranspose2d(2, 1, 3, 2, 2, output_padding=1), nn.Tanh(),                        # (N, 1, 8, 8)
    )
    D = nn.Sequential(
        nn.Conv2d(1, 3, 4, 2, 1), nn.LeakyReLU(0.2),                                           # (N, 3, 4, 4)
        nn.Conv2d(3, 4, 3, 2, 1, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.2),            # (N, 4, 2, 2)
        nn.Flatten(), nn.Linear(16, 1),                                                        # (N, 1)
    )
    # Non-trivial batch-norm affine parameters so their gradients matter.
    with torch.no_grad():
        for m in list(G) + list(D):
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    weights = {}
    for prefix, net in (("G.", G), ("D.", D)):
        for k, v in net.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                weights[prefix + k] = v.clone()
    z = torch.randn(N, Z)
    real = torch.rand(N, 1, 8, 8) * 2 - 1

    G.train(); D.train()
    fake = G(z)
    logits = D(fake)
    loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))   # non-saturating
    loss_g.backward()
    expected = {"fake": fake, "logits_fake": logits, "loss_g": loss_g.reshape(1)}
    for prefix, net in (("G.", G), ("D.", D)):
        for k, p in net.named_parameters():
            expected[prefix + k + ".grad"] = p.grad.clone()
    for k, v in G.state_dict().items():
        if "running" in k:
            expected["G." + k] = v.clone()
    opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.step()
    for k, p in G.named_parameters():
        expected["adam.G." + k] = p.detach().clone()

    D.zero_grad()
    logits_real = D(real)
    loss_d_real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
    loss_d_real.backward()
    expected["loss_d_real"] = loss_d_real.reshape(1)
    for k, p in D.named_parameters():
        expected["realstep.D." + k + ".grad"] = p.grad.clone()

    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, "weights.safetensors"), weights)
    write_safetensors(os.path.join(OUT, "inputs.safetensors"), {"z": z, "real": real})
    write_safetensors(os.path.join(OUT, "expected.safetensors"), expected)
    print("wrote", OUT, "torch", torch.__version__)


class ConditionalG(nn.Module):
    """z and a label -> (N, 1, 8, 8); the label's embedding joins z as Forger's Conditioning does."""

    def __init__(self, z, classes, width, join):
        super().__init__()
        self.join = join
        self.embedding = nn.Embedding(classes, z if join == "multiply" else width)
        joined = z if join == "multiply" else z + width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(joined, 3, 4, 1, 0, bias=False), nn.BatchNorm2d(3), nn.ReLU(),   # (N, 3, 4, 4)
            nn.Upsample(scale_factor=2, mode="nearest"),                                       # (N, 3, 8, 8)
            nn.Conv2d(3, 1, 3, 1, 1), nn.Tanh(),                                               # (N, 1, 8, 8)
        )

    def forward(self, z, y):
        e = self.embedding(y)
        x = z * e if self.join == "multiply" else torch.cat([z, e], 1)
        return self.net(x.view(x.shape[0], -1, 1, 1))


class ConditionalD(nn.Module):
    """An image and a label -> one logit; the label's embedding is broadcast as extra channels."""

    def __init__(self, classes):
        super().__init__()
        self.embedding = nn.Embedding(classes, classes)
        self.net = nn.Sequential(
            nn.Conv2d(1 + classes, 3, 4, 2, 1), nn.LeakyReLU(0.2),                              # (N, 3, 4, 4)
            nn.Conv2d(3, 4, 3, 2, 1, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.2),         # (N, 4, 2, 2)
            nn.Flatten(), nn.Linear(16, 1),                                                     # (N, 1)
        )

    def forward(self, x, y):
        e = self.embedding(y)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.net(torch.cat([x, e], 1))


def forger_name(prefix, key):
    """Forger's checkpoint names: net.<i>.<name> -> <prefix><i>.<name>, embedding.weight -> <prefix>embedding."""
    return prefix + ("embedding" if key == "embedding.weight" else key[len("net."):])


def named(prefix, module):
    return {forger_name(prefix, k): v.clone() for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}


def conditional():
    torch.manual_seed(1998)
    Z, N, K, W = 4, 6, 3, 2
    gs = {"G.": ConditionalG(Z, K, W, "concat"), "GM.": ConditionalG(Z, K, W, "multiply")}
    D = ConditionalD(K)
    with torch.no_grad():
        for m in [m for g in gs.values() for m in g.modules()] + list(D.modules()):
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    weights = named("D.", D)
    for prefix, g in gs.items():
        weights.update(named(prefix, g))
    z = torch.randn(N, Z)
    labels = torch.tensor([0, 2, 1, 2, 2, 0])
    real = torch.rand(N, 1, 8, 8) * 2 - 1
    real_labels = torch.tensor([1, 0, 0, 2, 1, 1])
    d_state = {k: v.clone() for k, v in D.state_dict().items()}

    expected = {}
    for prefix, G in gs.items():
        D.load_state_dict(d_state)           # each generator step starts from the same D
        G.train(); D.train()
        G.zero_grad(); D.zero_grad()
        fake = G(z, labels)
        logits = D(fake, labels)
        loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        loss_g.backward()
        expected[prefix + "fake"] = fake
        expected[prefix + "logits_fake"] = logits
        expected[prefix + "loss_g"] = loss_g.reshape(1)
        for net_prefix, net in ((prefix, G), ("D.", D)):
            for k, p in net.named_parameters():
                expected[prefix + "grad." + forger_name(net_prefix, k)] = p.grad.clone()

    # The generator step with a mode-seeking term (MSGAN, weight 0.5): pairs (i, i + N/2).
    G = gs["G."]
    D.load_state_dict(d_state)
    G.zero_grad(); D.zero_grad()
    fake = G(z, labels)
    logits = D(fake, labels)
    half = N // 2
    ratio = (fake[:half] - fake[half:2 * half]).abs().mean() / (z[:half] - z[half:2 * half]).abs().mean()
    ms = 0.5 / (ratio + 1e-5)
    (F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)) + ms).backward()
    expected["ms.loss"] = ms.reshape(1)
    for k, p in G.named_parameters():
        expected["ms.grad." + forger_name("G.", k)] = p.grad.clone()

    D.load_state_dict(d_state)
    D.train(); D.zero_grad()
    logits_real = D(real, real_labels)
    loss_d_real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
    loss_d_real.backward()
    expected["realstep.loss_d_real"] = loss_d_real.reshape(1)
    for k, p in D.named_parameters():
        expected["realstep." + forger_name("D.", k) + ".grad"] = p.grad.clone()

    out = os.path.join(FIXTURES, "gan_cond")
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "weights.safetensors"), weights)
    write_safetensors(os.path.join(out, "inputs.safetensors"),
                      {"z": z, "labels": labels.float(), "real": real, "real_labels": real_labels.float()})
    write_safetensors(os.path.join(out, "expected.safetensors"), expected)
    print("wrote", out, "torch", torch.__version__)


if __name__ == "__main__":
    main()
    conditional()
