#!/usr/bin/env python3
"""The 64-px check behind the dcgan-upsample preset: trains the pytorch/examples DCGAN pair on
LFW-crop in PyTorch (Debian python3-torch, one thread) with `forger train`'s settings (batch 64,
Adam 2e-4 / 0.5, random flips, non-saturating loss) in pytorch/examples' own loop (the G step
reuses the D step's fakes, real batches are drawn with replacement, samples come from G in
training mode), and writes an 8x8 grid of G's samples.

  /usr/bin/python3 Tools/pytorch_lfw64_check.py LFW_DIR --width 16 --steps 300 --generator dcgan    OUT.png
  /usr/bin/python3 Tools/pytorch_lfw64_check.py LFW_DIR --width 16 --steps 300 --generator upsample OUT.png

Measured 2026-11-29 on the 2-core Xeon (AVX-512): with the transposed-convolution generator
D(G(z)) falls to 0.00 and the samples are one grey texture; with the upsampling generator
D(G(z)) stays near 0.1 and the grid shows faces. About 130 s per run unloaded.
"""
import argparse
import glob
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_gan_step_fixture import dcgan, upsample_generator  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--generator", choices=["dcgan", "upsample"], default="dcgan")
    a = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(1)
    files = sorted(glob.glob(os.path.join(a.data, "**", "*.png"), recursive=True)
                   + glob.glob(os.path.join(a.data, "**", "*.ppm"), recursive=True))
    if not files:
        raise SystemExit(f"{a.data}: no .png or .ppm images")
    x = np.stack([np.asarray(Image.open(f).convert("RGB").resize((64, 64))) for f in files])
    x = torch.from_numpy(x.astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2).contiguous()
    G, D = dcgan(64, 3, a.width, 100)
    if a.generator == "upsample":
        G = upsample_generator(64, 3, a.width, 100)
    for m in list(G) + list(D):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1, 0.02)
            nn.init.zeros_(m.bias)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = F.binary_cross_entropy_with_logits
    fixed, started = torch.randn(64, 100, 1, 1), time.time()
    for step in range(a.steps):
        real = x[torch.randint(0, len(x), (64,))]
        flip = torch.rand(64) < 0.5
        real[flip] = real[flip].flip(3)
        D.zero_grad()
        lr_ = D(real)
        loss_r = bce(lr_, torch.ones_like(lr_))
        loss_r.backward()
        fake = G(torch.randn(64, 100, 1, 1))
        lf = D(fake.detach())
        loss_f = bce(lf, torch.zeros_like(lf))
        loss_f.backward()
        opt_d.step()
        G.zero_grad()
        lg = D(fake)
        loss_g = bce(lg, torch.ones_like(lg))
        loss_g.backward()
        opt_g.step()
        if step % 50 == 0 or step == a.steps - 1:
            print(f"step {step}  D {float(loss_r + loss_f):.3f}  G {float(loss_g):.3f}  "
                  f"D(x) {float(torch.sigmoid(lr_).mean()):.2f}  D(G(z)) {float(torch.sigmoid(lg).mean()):.2f}  "
                  f"{time.time() - started:.0f} s", flush=True)
    with torch.no_grad():
        img = G(fixed)          # training mode: batch statistics, as pytorch/examples samples
    img = ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    Image.fromarray(img.reshape(8, 8, 64, 64, 3).transpose(0, 2, 1, 3, 4).reshape(512, 512, 3)).save(a.out)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
