#!/usr/bin/env python3
"""Reference values for Tests/EvaluationTests, computed independently of Forger.

Fréchet distance: pytorch-fid's calculate_frechet_distance (numpy + scipy.linalg.sqrtm).
Laplacian pyramid, descriptor normalisation and the sliced Wasserstein distance: the
functions of Karras et al.'s progressive_growing_of_gans/metrics/sliced_wasserstein.py
(pyr_down, pyr_up, generate_laplacian_pyramid, finalize_descriptors, sliced_wasserstein),
with the random directions passed in instead of drawn, so Swift can use the same ones.

Run: python3 Tools/make_evaluation_fixtures.py   (needs numpy and scipy; Debian's /usr/bin/python3
lacks scipy here, so the checked-in fixtures come from a python3 with `pip install scipy`)
Writes Tests/EvaluationTests/Fixtures/{frechet,swd}.json.
"""
import json
import os

import numpy as np
import scipy.linalg
import scipy.ndimage

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EvaluationTests", "Fixtures")


def frechet(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid 0.3.0, calculate_frechet_distance."""
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_cases(rng):
    cases = []
    for name, n1, n2, f, shift, mix in [("small", 40, 50, 6, 0.5, 0.3), ("wider", 120, 100, 16, 0.1, 0.8),
                                       ("same-distribution", 200, 200, 8, 0.0, 0.0)]:
        a = rng.standard_normal((n1, f)).astype(np.float32)
        m = np.eye(f) + mix * rng.standard_normal((f, f))
        b = (rng.standard_normal((n2, f)) @ m + shift).astype(np.float32)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        mu1, mu2 = a64.mean(axis=0), b64.mean(axis=0)
        s1, s2 = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
        cases.append({"name": name, "features": f, "a": a.ravel().tolist(), "b": b.ravel().tolist(),
                      "mean_a": mu1.tolist(), "cov_a_trace": float(np.trace(s1)), "cov_a_01": float(s1[0, 1]),
                      "distance": frechet(mu1, s1, mu2, s2), "self_distance": frechet(mu1, s1, mu1, s1)})
    return cases


# --- Karras et al. 2018, metrics/sliced_wasserstein.py -------------------------------------
gaussian_filter = np.float32([
    [1, 4, 6, 4, 1],
    [4, 16, 24, 16, 4],
    [6, 24, 36, 24, 6],
    [4, 16, 24, 16, 4],
    [1, 4, 6, 4, 1]]) / 256.0


def pyr_down(minibatch):
    return scipy.ndimage.convolve(minibatch, gaussian_filter[np.newaxis, np.newaxis, :, :], mode='mirror')[:, :, ::2, ::2]


def pyr_up(minibatch):
    S = minibatch.shape
    res = np.zeros((S[0], S[1], S[2] * 2, S[3] * 2), minibatch.dtype)
    res[:, :, ::2, ::2] = minibatch
    return scipy.ndimage.convolve(res, gaussian_filter[np.newaxis, np.newaxis, :, :] * 4.0, mode='mirror')


def generate_laplacian_pyramid(minibatch, num_levels):
    pyramid = [np.float32(minibatch)]
    for i in range(1, num_levels):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] -= pyr_up(pyramid[-1])
    return pyramid


def finalize_descriptors(desc):
    desc = desc.copy()
    desc -= np.mean(desc, axis=(0, 2, 3), keepdims=True)
    desc /= np.std(desc, axis=(0, 2, 3), keepdims=True)
    return desc.reshape(desc.shape[0], -1)


def sliced_wasserstein(A, B, dirs):
    """One repeat of their sliced_wasserstein with given unit directions (D, K)."""
    projA = np.sort(np.matmul(A, dirs), axis=0)
    projB = np.sort(np.matmul(B, dirs), axis=0)
    return float(np.mean(np.abs(projA - projB)))


def swd_case(rng):
    images = rng.integers(0, 256, size=(2, 2, 32, 32)).astype(np.uint8)
    pyramid = generate_laplacian_pyramid(images, 2)
    raw = (rng.standard_normal((20, 2, 7, 7)) * np.array([3.0, 0.5])[None, :, None, None] + 7).astype(np.float32)
    a = rng.standard_normal((64, 10)).astype(np.float32)
    b = (rng.standard_normal((64, 10)) * 1.5 + 0.3).astype(np.float32)
    dirs = rng.standard_normal((10, 8))
    dirs /= np.sqrt(np.sum(np.square(dirs), axis=0, keepdims=True))
    dirs = dirs.astype(np.float32)
    return {
        "images": images.ravel().tolist(), "image_shape": list(images.shape),
        "pyramid": [level.ravel().tolist() for level in pyramid],
        "pyramid_shapes": [list(level.shape) for level in pyramid],
        "raw_descriptors": raw.ravel().tolist(), "raw_shape": list(raw.shape),
        "normalised": finalize_descriptors(raw).ravel().tolist(),
        "a": a.ravel().tolist(), "b": b.ravel().tolist(), "rows": 64, "width": 10,
        "directions": dirs.T.ravel().tolist(), "direction_count": 8,
        "sliced_distance": sliced_wasserstein(a, b, dirs),
    }


def main():
    rng = np.random.default_rng(20240601)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "frechet.json"), "w") as f:
        json.dump({"producer": "Tools/make_evaluation_fixtures.py: pytorch-fid calculate_frechet_distance (scipy.linalg.sqrtm)",
                   "cases": frechet_cases(rng)}, f)
    with open(os.path.join(OUT, "swd.json"), "w") as f:
        json.dump({"producer": "Tools/make_evaluation_fixtures.py: Karras et al. 2018 metrics/sliced_wasserstein.py",
                   **swd_case(rng)}, f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
