#!/usr/bin/python3
"""Builds the direction-discovery fixtures with PyTorch and numpy (Debian's python3-torch).

Under Tests/LatentTests/Fixtures/directions/ it writes two small random generators as Forger
models (model.json, weights.safetensors):
  convt       latent 8 viewed as (8, 1, 1): ConvTranspose2d(8, 12, 4) no bias, BatchNorm, ReLU,
              ConvTranspose2d(12, 1, 4, 2, 1), Tanh -> (1, 8, 8)
  linear_cond class-conditional (3 classes, embedding 4 concatenated before the latent 6):
              Linear(10, 32), ReLU, reshape (2, 4, 4), Conv2d(2, 1, 3, p1), Tanh -> (1, 4, 4)
and the expected values, computed independently of Forger:
  sefa_<model>.npy / sefa_<model>.json   SeFa: W (Z, K) from the first layer (latent rows
                                         only), columns normalised, numpy.linalg.eigh(W W^T),
                                         eigenvalues descending
  ganspace_latents.npy                   N = 1000 latents (torch.randn), float32 (N, 8)
  ganspace_components.npy                PCA (by SVD of the centred activations, float64) of
                                         convt's layer-2 activations (after the ReLU), computed
                                         by PyTorch in eval mode: the top 8 axes (8, 192)
  ganspace_directions.npy                each PCA coordinate regressed onto the latents with
                                         numpy.linalg.lstsq, rows normalised (8, 8)
  ganspace.json                          variance ratios and the latents' sigma along each
                                         direction (std, ddof 1)
  boundary.json                          a least-squares linear boundary (labels +1/-1 on
                                         [z, 1], numpy.linalg.lstsq) between two random sets
Every vector's sign is fixed so that its largest-magnitude component is positive (GANSpace
directions follow their component's sign).

Run: /usr/bin/python3 Tools/make_direction_fixtures.py   (deterministic: fixed seeds)
"""
import json, os, sys
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_model, write_npy, randomise_bn, bn, View  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LatentTests", "Fixtures", "directions")
REFERENCE = "numpy %s, PyTorch %s, float64" % (np.__version__, torch.__version__)


def fix_sign(v):
    """v with its largest-magnitude component positive (lowest index on ties); v is 1-D."""
    return v if v[np.argmax(np.abs(v))] >= 0 else -v


def sefa_reference(name, w):
    """w: (Z, K) float64, one row per latent dimension."""
    w = w / np.linalg.norm(w, axis=0, keepdims=True)
    values, vectors = np.linalg.eigh(w @ w.T)
    order = np.argsort(-values, kind="stable")
    values, vectors = values[order], vectors[:, order].T
    vectors = np.stack([fix_sign(v) for v in vectors])
    write_npy(os.path.join(ROOT, "sefa_%s.npy" % name), vectors)
    with open(os.path.join(ROOT, "sefa_%s.json" % name), "w") as f:
        json.dump({"eigenvalues": values.tolist(), "reference": REFERENCE + ", numpy.linalg.eigh"}, f, indent=1)


def convt():
    torch.manual_seed(21)
    nz = 8
    model = nn.Sequential(nn.ConvTranspose2d(nz, 12, 4, 1, 0, bias=False), nn.BatchNorm2d(12), nn.ReLU(),
                          nn.ConvTranspose2d(12, 1, 4, 2, 1, bias=False), nn.Tanh())
    randomise_bn(model)
    model.eval()
    manifest = {"format": "forger-model", "version": 1, "name": "directions-convt",
                "description": "direction fixture: DCGAN-like first layer",
                "latent": {"size": nz, "shape": [nz, 1, 1], "distribution": {"kind": "normal"}},
                "output": {"channels": 1, "height": 8, "width": 8, "range": [-1, 1]},
                "layers": [{"type": "convtranspose2d", "in": nz, "out": 12, "kernel": 4, "stride": 1, "padding": 0,
                            "output_padding": 0, "weight": "0.weight", "bias": None},
                           bn("1", 12), {"type": "relu"},
                           {"type": "convtranspose2d", "in": 12, "out": 1, "kernel": 4, "stride": 2, "padding": 1,
                            "output_padding": 0, "weight": "3.weight", "bias": None},
                           {"type": "tanh"}]}
    save_model(os.path.join(ROOT, "convt"), model, manifest)
    w = model[0].weight.detach().double().numpy()                      # (nz, C, kh, kw)
    sefa_reference("convt", w.reshape(nz, -1))

    # GANSpace at layer 2 (the ReLU after the first layer).
    n, k = 1000, 8
    g = torch.Generator().manual_seed(22)
    z = torch.randn(n, nz, generator=g)
    write_npy(os.path.join(ROOT, "ganspace_latents.npy"), z.numpy())
    with torch.no_grad():
        y = model[:3](z.reshape(n, nz, 1, 1)).reshape(n, -1).double().numpy()    # (N, 192)
    yc = y - y.mean(axis=0)
    _, s, vt = np.linalg.svd(yc, full_matrices=False)
    variances = s ** 2 / (n - 1)
    ratios = variances / variances.sum()
    axes = np.stack([fix_sign(v) for v in vt[:k]])                     # (K, D)
    coords = yc @ axes.T                                               # (N, K)
    zd = z.double().numpy()
    ut, *_ = np.linalg.lstsq(coords, zd, rcond=None)                   # (K, Z): coords @ ut ~ z
    directions = ut / np.linalg.norm(ut, axis=1, keepdims=True)
    sigmas = (zd @ directions.T).std(axis=0, ddof=1)
    write_npy(os.path.join(ROOT, "ganspace_components.npy"), axes)
    write_npy(os.path.join(ROOT, "ganspace_directions.npy"), directions)
    with open(os.path.join(ROOT, "ganspace.json"), "w") as f:
        json.dump({"layer": 2, "samples": n, "variance_ratios": ratios[:k].tolist(), "sigmas": sigmas.tolist(),
                   "reference": REFERENCE + ", PCA by numpy.linalg.svd, regression by numpy.linalg.lstsq"}, f, indent=1)


class LinearConditional(nn.Module):
    def __init__(self, nz, classes, dim):
        super().__init__()
        self.label_emb = nn.Embedding(classes, dim)
        self.body = nn.Sequential(nn.Linear(dim + nz, 32), nn.ReLU(), View(2, 4, 4), nn.Conv2d(2, 1, 3, 1, 1), nn.Tanh())

    def forward(self, z, labels):
        return self.body(torch.cat([self.label_emb(labels), z], dim=1))


def linear_cond():
    torch.manual_seed(31)
    nz, classes, dim = 6, 3, 4
    model = LinearConditional(nz, classes, dim)
    model.eval()
    manifest = {"format": "forger-model", "version": 1, "name": "directions-linear-cond",
                "description": "direction fixture: conditional, linear first layer",
                "latent": {"size": nz, "distribution": {"kind": "normal"}},
                "output": {"channels": 1, "height": 4, "width": 4, "range": [-1, 1]},
                "conditioning": {"classes": classes, "embedding": "label_emb.weight", "join": "concat-label-first"},
                "layers": [{"type": "linear", "in": dim + nz, "out": 32, "weight": "body.0.weight", "bias": "body.0.bias"},
                           {"type": "relu"}, {"type": "reshape", "shape": [2, 4, 4]},
                           {"type": "conv2d", "in": 2, "out": 1, "kernel": 3, "padding": 1,
                            "weight": "body.3.weight", "bias": "body.3.bias"}, {"type": "tanh"}]}
    save_model(os.path.join(ROOT, "linear_cond"), model, manifest)
    w = model.body[0].weight.detach().double().numpy()                 # (out, dim + nz)
    sefa_reference("linear_cond", w[:, dim:].T)                        # latent columns, transposed: (Z, out)


def boundary():
    rng = np.random.default_rng(41)
    size = 5
    shift = np.array([1.0, -0.5, 0.25, 0.0, 0.75])
    with_ = rng.standard_normal((20, size)) + shift
    without = rng.standard_normal((25, size)) - shift
    a = np.hstack([np.vstack([with_, without]), np.ones((45, 1))])
    b = np.concatenate([np.ones(20), -np.ones(25)])
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    normal = x[:size] / np.linalg.norm(x[:size])
    with open(os.path.join(ROOT, "boundary.json"), "w") as f:
        json.dump({"with": with_.astype(np.float32).tolist(), "without": without.astype(np.float32).tolist(),
                   "normal": normal.tolist(), "offset": float(x[size] / np.linalg.norm(x[:size])),
                   "reference": REFERENCE + ", numpy.linalg.lstsq on [z, 1] with labels +1/-1"}, f, indent=1)


if __name__ == "__main__":
    torch.set_num_threads(1)
    os.makedirs(ROOT, exist_ok=True)
    convt(); linear_cond(); boundary()
    print("wrote", os.path.normpath(ROOT))
