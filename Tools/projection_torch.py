#!/usr/bin/python3
"""PyTorch beside `forger project`: the same optimisation, for the speed comparison and the
random-sample baseline of docs/projection.md.

  projection_torch.py bench MODEL_DIR TARGETS.npy --steps S --restarts R [--threads T]
      Builds the generator from MODEL_DIR/model.json + weights.safetensors (eval mode), and
      runs forger project's optimisation on the targets (N, C, H, W in the model's range,
      e.g. the .targets.npy forger project wrote): MSE + prior weight 0.01 * (|z|^2/d - 1)^2,
      Adam(0.9, 0.999) at lr 0.3 with 5% linear warm-up and cosine decay, the prior's mean
      plus R random starts per image in one batch, best kept. Prints steps/s and mean PSNR.
  projection_torch.py best-random MODEL_DIR TARGETS.npy --samples 10000 [--seed 0]
      The best PSNR any of SAMPLES random latents from N(0, 1) reaches for each target
      (8-bit images, as forger renders them). Prints each and the mean.
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        assert info["dtype"] == "F32", name
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").copy()).reshape(info["shape"])
    return out


def pair(v):
    return tuple(v) if isinstance(v, list) else (v, v)


def build(model_dir):
    """The generator of a Forger model directory as an nn.Sequential in eval mode."""
    m = json.load(open(os.path.join(model_dir, "model.json")))
    w = read_safetensors(os.path.join(model_dir, "weights.safetensors"))
    layers = []
    for spec in m["layers"]:
        t = spec["type"]
        if t == "linear":
            l = nn.Linear(spec["in"], spec["out"], bias=spec.get("bias") is not None)
        elif t in ("conv2d", "convtranspose2d"):
            cls = nn.Conv2d if t == "conv2d" else nn.ConvTranspose2d
            kw = dict(stride=pair(spec.get("stride", 1)), padding=pair(spec.get("padding", 0)), bias=spec.get("bias") is not None)
            if t == "convtranspose2d":
                kw["output_padding"] = pair(spec.get("output_padding", 0))
            l = cls(spec["in"], spec["out"], pair(spec["kernel"]), **kw)
        elif t == "batchnorm":
            l = BatchNorm(spec["features"], eps=spec["eps"])
        elif t == "upsample":
            l = nn.Upsample(scale_factor=spec["scale"], mode="nearest")
        elif t == "reshape":
            shape = spec["shape"]
            l = Reshape(shape)
        elif t == "flatten":
            l = nn.Flatten()
        else:
            l = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "identity": nn.Identity(),
                 "leakyrelu": nn.LeakyReLU(spec.get("slope", 0.01))}[t]
        with torch.no_grad():
            if t in ("linear", "conv2d", "convtranspose2d"):
                l.weight.copy_(w[spec["weight"]])
                if spec.get("bias"):
                    l.bias.copy_(w[spec["bias"]])
            if t == "batchnorm":
                for attr, key in [("weight", "weight"), ("bias", "bias"), ("running_mean", "running_mean"), ("running_var", "running_var")]:
                    if spec.get(key):
                        getattr(l, attr).copy_(w[spec[key]])
        layers.append(l)
    g = nn.Sequential(*layers).eval()
    for p in g.parameters():
        p.requires_grad_(False)
    return g, m


class BatchNorm(nn.BatchNorm1d):
    """Eval-mode batch norm over (N, C) or (N, C, H, W) (BatchNorm2d refuses 2-D input)."""
    def _check_input_dim(self, x):
        pass


class Reshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(x.shape[0], *self.shape)


def generate(g, m, z):
    shape = m["latent"].get("shape") or [m["latent"]["size"]]
    return g(z.view(z.shape[0], *shape))


def to_bytes(x, lo, hi):
    return torch.clamp(torch.round((x - lo) / (hi - lo) * 255), 0, 255)


def psnr(a, b):
    mse = ((a - b) ** 2).mean(dim=tuple(range(1, a.dim())))
    return 10 * torch.log10(255 * 255 / mse)


def bench(args):
    g, m = build(args.model)
    lo, hi = m["output"]["range"]
    targets = torch.from_numpy(np.load(args.targets))
    n, d, s = targets.shape[0], m["latent"]["size"], args.restarts + 1
    torch.manual_seed(0)
    z0 = torch.randn(n, s, d)
    z0[:, 0] = 0
    z = z0.reshape(n * s, d).clone().requires_grad_(True)
    rows = torch.arange(n).repeat_interleave(s)
    opt = torch.optim.Adam([z], lr=0.3, betas=(0.9, 0.999))
    warm = round(0.05 * args.steps)
    best = torch.full((n * s,), math.inf)
    best_z = z.detach().clone()
    start = time.time()
    for t in range(args.steps + 1):
        y = generate(g, m, z)
        recon = ((y - targets[rows]) ** 2).mean(dim=(1, 2, 3))
        prior = 0.01 * ((z * z).sum(dim=1) / d - 1) ** 2
        objective = recon + prior
        with torch.no_grad():
            better = objective < best
            best = torch.where(better, objective, best)
            best_z[better] = z[better]
        if t == args.steps:
            break
        ramp = (t + 1) / warm if warm > 0 and t < warm else 1
        for group in opt.param_groups:
            group["lr"] = 0.3 * ramp * 0.5 * (1 + math.cos(math.pi * t / args.steps))
        opt.zero_grad()
        objective.sum().backward()
        opt.step()
    seconds = time.time() - start
    winners = best.view(n, s).argmin(dim=1)
    zbest = best_z.view(n, s, d)[torch.arange(n), winners]
    with torch.no_grad():
        p = psnr(to_bytes(generate(g, m, zbest), lo, hi), to_bytes(targets, lo, hi))
    print("pytorch %s, %d threads: %d steps, batch %d, %.2f s, %.2f steps/s, mean PSNR %.2f dB" % (
        torch.__version__, torch.get_num_threads(), args.steps, n * s, seconds, (args.steps + 1) / seconds, p.mean().item()))


def best_random(args):
    g, m = build(args.model)
    lo, hi = m["output"]["range"]
    targets = to_bytes(torch.from_numpy(np.load(args.targets)), lo, hi)
    d = m["latent"]["size"]
    gen = torch.Generator().manual_seed(args.seed)
    best = torch.full((targets.shape[0],), -math.inf)
    done = 0
    with torch.no_grad():
        while done < args.samples:
            k = min(500, args.samples - done)
            y = to_bytes(generate(g, m, torch.randn(k, d, generator=gen)), lo, hi).flatten(1)   # (k, P)
            t = targets.flatten(1)                                                               # (N, P)
            mse = (y * y).sum(1)[None, :] - 2 * t @ y.T + (t * t).sum(1)[:, None]
            p = 10 * torch.log10(255 * 255 * t.shape[1] / mse.clamp(min=1e-9))
            best = torch.maximum(best, p.max(dim=1).values)
            done += k
    print("best of %d random samples, PSNR per target: %s" % (args.samples, " ".join("%.2f" % v for v in best.tolist())))
    print("mean best-of-%d PSNR %.2f dB" % (args.samples, best.mean().item()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["bench", "best-random"])
    ap.add_argument("model")
    ap.add_argument("targets")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bench(args) if args.mode == "bench" else best_random(args)


if __name__ == "__main__":
    main()
