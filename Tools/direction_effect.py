#!/usr/bin/python3
"""How much a library's top directions change a generator's images, against random unit
directions: for each of B base latents z from the prior (numpy, seed 1) and each direction u
with its sigma s, the mean absolute pixel change (in 0-255 levels of the model's output range)
between G(z) and G(z + 3 s u), and between G(z) and G(z - 3 s u), averaged. Random directions:
R unit vectors uniform on the sphere (numpy, seed 2), moved by the prior's sigma (1 for a
normal prior). Images come from Forger itself (`forger sample --latents z.npy --out-npy`).

Usage: /usr/bin/python3 Tools/direction_effect.py FORGER MODEL_DIR LIBRARY.json PREFIX [TOP] [B] [R]
e.g.   /usr/bin/python3 Tools/direction_effect.py .build/release/forger Models/mnist dirs.json sefa
"""
import json, os, subprocess, sys, tempfile
import numpy as np


def main():
    forger, model, library, prefix = sys.argv[1:5]
    top, bases, randoms = (int(a) for a in (sys.argv[5:8] + ["5", "32", "100"][len(sys.argv[5:8]):]))
    manifest = json.load(open(os.path.join(model, "model.json")))
    size = manifest["latent"]["size"]
    if manifest["latent"]["distribution"]["kind"] != "normal":
        sys.exit("this measurement draws bases from N(0, 1); the model's prior is not normal")
    low, high = manifest["output"]["range"]
    vectors = json.load(open(library))["vectors"]
    chosen = [(np.array(vectors["%s-%d" % (prefix, k)]["vector"], dtype=np.float64),
               vectors["%s-%d" % (prefix, k)]["direction"]["sigma"]) for k in range(top)]
    rng = np.random.default_rng(2)
    for _ in range(randoms):
        v = rng.standard_normal(size)
        chosen.append((v / np.linalg.norm(v), 1.0))
    z = np.random.default_rng(1).standard_normal((bases, size))
    rows = []
    for u, s in chosen:
        for b in z:
            rows += [b, b + 3 * s * u, b - 3 * s * u]
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "z.npy"), np.array(rows, dtype=np.float32))
        subprocess.run([forger, "sample", model, "--latents", os.path.join(tmp, "z.npy"), "--out-npy",
                        os.path.join(tmp, "y.npy"), "--quiet"], check=True)
        y = np.load(os.path.join(tmp, "y.npy")).astype(np.float64).reshape(len(chosen), bases, 3, -1)
    levels = 255 / (high - low)
    change = (np.abs(y[:, :, 1] - y[:, :, 0]).mean(axis=2) + np.abs(y[:, :, 2] - y[:, :, 0]).mean(axis=2)) / 2 * levels
    per_direction = change.mean(axis=1)                   # (top + randoms)
    mine, random = per_direction[:top], per_direction[top:]
    print("%s top %d: %s levels (mean %.2f)" % (prefix, top, " ".join("%.2f" % v for v in mine), mine.mean()))
    print("random unit directions (%d): mean %.2f, std %.2f, max %.2f" % (randoms, random.mean(), random.std(), random.max()))
    print("ratio: %.2fx  (%d bases, +-3 sigma)" % (mine.mean() / random.mean(), bases))


if __name__ == "__main__":
    main()
