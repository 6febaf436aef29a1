#!/usr/bin/env python3
"""Two release builds of Forger side by side, one figure at a time: for each MODEL+BATCH key
(a1, c64, ...), runs `forger bench --only MODEL --batches BATCH` on the old and the new binary in
turn (the order flipping every round, so that a drifting machine moves both alike) and prints the
median and quartiles of the new/old images-per-second ratios. The key `train` times the GAN
training row (iterations per second). With --cpu the ratios are of images (or iterations) per
CPU-second, a figure that a machine loaded by other work disturbs much less (use threads 1).

    git worktree add /tmp/old <commit> && (cd /tmp/old && swift build -c release --static-swift-stdlib)
    Tools/ab_builds.py /tmp/old/.build/release/forger .build/release/forger 16 a1,b1,c1,a64 [threads] [--cpu]
"""
import re
import statistics
import subprocess
import sys

per_cpu = "--cpu" in sys.argv
args = [a for a in sys.argv if a != "--cpu"]
if len(args) < 5:
    sys.exit(__doc__)
old, new, rounds, keys = args[1], args[2], int(args[3]), args[4].split(",")
threads = args[5] if len(args) > 5 else "2"


def rate(binary, model, batch):
    if model == "train":
        out = subprocess.run([binary, "bench", "--training-only", "--training-seconds", "1", "--repeats", "2",
                              "--threads", threads], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            m = re.match(r"^C \+ conv D\s+\d+\s+\d+\s+([\d.]+)\s+([\d.]+)", line)
            if m:
                return float(m.group(2 if per_cpu else 1))
        sys.exit(f"ab_builds: {binary} printed no training figure")
    out = subprocess.run([binary, "bench", "--no-training", "--no-cold-start", "--seconds", "0.25", "--repeats", "1",
                          "--only", model, "--batches", batch, "--threads", threads],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r"^([abc])\s+(\d+)\s+\d+\s+(\d+)\s+(\d+)", line)
        if m:
            return float(m.group(4 if per_cpu else 3))
    sys.exit(f"ab_builds: {binary} printed no figure for {model} at batch {batch}")


for key in keys:
    model, batch = ("train", "") if key == "train" else (key[0], key[1:])
    ratios = []
    for i in range(rounds):
        pair = [(old, model, batch), (new, model, batch)]
        o, n = (rate(*pair[0]), rate(*pair[1])) if i % 2 == 0 else reversed((rate(*pair[1]), rate(*pair[0])))
        ratios.append(n / o)
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"{key} median {statistics.median(ratios):.3f} quartiles {q[0]:.2f}-{q[2]:.2f}", flush=True)
