#!/usr/bin/python3
"""An independent judge of generated digits: a small PyTorch CNN that Forger did not train.

The shipped digits-classifier was trained by Forger itself, so a generator tuned against it
could please it and still look wrong. This script trains a different network, in PyTorch, on
MNIST, and scores a model's samples with it: each class's share of the votes, the mean
top-class confidence and, for a class-conditional model, how often the class asked for is
the class seen.

    Tools/digit_judge.py train --mnist ../shared/data/mnist
    Tools/digit_judge.py judge Models/mnist --forger .build/release/forger
    Tools/digit_judge.py judge Models/mnist-cond --forger .build/release/forger

`train` refuses to save a judge under 98.5% test accuracy. The judge's weights go to
--weights (default /tmp/forger-digit-judge.pt); `judge` trains one first when none is there.
Torch is a tool of this script only; Forger never needs it.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_WEIGHTS = "/tmp/forger-digit-judge.pt"
MINIMUM_ACCURACY = 0.985


def read_idx(path):
    """An IDX file (gzipped or not) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Judge(nn.Module):
    """Two 3x3 convolutions with max pooling, dropout, a 128-unit layer and 10 logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)
        self.drop = nn.Dropout(0.25)

    def forward(self, x):                                   # x: (N, 1, 28, 28) in [0, 1]
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)          # (N, 32, 13, 13)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)          # (N, 64, 5, 5)
        x = self.drop(torch.flatten(x, 1))
        return self.fc2(self.drop(F.relu(self.fc1(x))))


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    d = args.mnist
    x = torch.from_numpy(read_idx(os.path.join(d, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    tx = torch.from_numpy(read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255).unsqueeze(1)
    ty = torch.from_numpy(read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))
    model = Judge()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x) - args.batch_size + 1, args.batch_size):
            idx = order[i:i + args.batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        sched.step()
        acc = accuracy(model, tx, ty)
        print(f"epoch {epoch + 1}: test accuracy {100 * acc:.2f}%", flush=True)
    if acc < MINIMUM_ACCURACY:
        sys.exit(f"the judge reached only {100 * acc:.2f}% test accuracy (needs {100 * MINIMUM_ACCURACY:.1f}%); train longer with --epochs")
    tmp = args.weights + ".tmp"
    torch.save({"state": model.state_dict(), "test_accuracy": acc}, tmp)
    os.replace(tmp, args.weights)
    print(f"wrote {args.weights} (test accuracy {100 * acc:.2f}%)")
    return acc


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((predict(model, x).argmax(1) == y).float().mean())


def predict(model, x):
    """Class probabilities (N, 10) of images (N, 1, 28, 28) in [0, 1]."""
    model.eval()
    with torch.no_grad():
        return torch.cat([F.softmax(model(x[i:i + 1000]), 1) for i in range(0, len(x), 1000)])


def load_judge(args):
    if not os.path.exists(args.weights):
        print(f"no judge at {args.weights}; training one", flush=True)
        train(args)
    saved = torch.load(args.weights)
    model = Judge()
    model.load_state_dict(saved["state"])
    return model, saved["test_accuracy"]


def samples(args, model_dir, count, seed, label=None):
    """`count` samples of a Forger model as (N, 1, 28, 28) in [0, 1], through `forger sample`."""
    with open(os.path.join(model_dir, "model.json")) as f:
        low, high = json.load(f)["output"]["range"]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "samples.npy")
        cmd = [args.forger, "sample", model_dir, "-n", str(count), "--seed", str(seed), "--out-npy", out, "--quiet"]
        if label is not None:
            cmd += ["--class", str(label)]
        subprocess.run(cmd, check=True)
        x = np.load(out).astype(np.float32)
    if x.shape[1:] != (1, 28, 28):
        sys.exit(f"{model_dir} makes {x.shape[1:]} images; the judge reads 1x28x28 digits")
    return torch.from_numpy(np.clip((x - low) / (high - low), 0, 1))


def judge(args):
    model, test_accuracy = load_judge(args)
    with open(os.path.join(args.model, "model.json")) as f:
        manifest = json.load(f)
    classes = (manifest.get("conditioning") or {}).get("classes")
    print(f"judge: PyTorch CNN, test accuracy {100 * test_accuracy:.2f}%")
    if classes:
        per = args.samples // classes
        probs, asked = [], []
        for c in range(classes):
            probs.append(predict(model, samples(args, args.model, per, args.seed + c * per, label=c)))
            asked += [c] * per
        p, asked = torch.cat(probs), torch.tensor(asked)
    else:
        p, asked = predict(model, samples(args, args.model, args.samples, args.seed)), None
    top = p.argmax(1)
    shares = torch.bincount(top, minlength=10).float() / len(top)
    confidence = float(p.max(1).values.mean())
    print(f"{args.model}: {len(top)} samples, seed {args.seed}")
    print("class shares       " + "  ".join(f"{i}: {100 * float(s):.1f}%" for i, s in enumerate(shares)))
    print(f"min / max share    {100 * float(shares.min()):.1f}% / {100 * float(shares.max()):.1f}%")
    print(f"mean confidence    {confidence:.3f}")
    report = {"model": args.model, "samples": len(top), "seed": args.seed, "judge_test_accuracy": test_accuracy,
              "class_shares": [float(s) for s in shares], "mean_confidence": confidence}
    if asked is not None:
        agree = [float((top[asked == c] == c).float().mean()) for c in range(classes)]
        print("asked-for class    " + "  ".join(f"{c}: {100 * a:.1f}%" for c, a in enumerate(agree)))
        print(f"min / mean         {100 * min(agree):.1f}% / {100 * sum(agree) / classes:.1f}%")
        report["requested_class_agreement"] = agree
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("train", "judge"):
        p = sub.add_parser(name)
        p.add_argument("--mnist", default=os.path.join(os.path.dirname(__file__), "../../shared/data/mnist"),
                       help="folder with the four MNIST IDX files")
        p.add_argument("--weights", default=DEFAULT_WEIGHTS)
        p.add_argument("--epochs", type=int, default=3)
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--seed", type=int, default=0)
    j = sub.choices["judge"]
    j.add_argument("model", help="a Forger model directory making 1x28x28 digits")
    j.add_argument("--forger", default=".build/release/forger")
    j.add_argument("--samples", type=int, default=10000)
    j.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    (train if args.command == "train" else judge)(args)


if __name__ == "__main__":
    main()
