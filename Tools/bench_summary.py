#!/usr/bin/env python3
"""Medians over rounds of Tools/bench.sh (BENCH_ROUNDS=N): reads each round's saved output and
prints, per model and batch, Forger's ratio to each peer in every round and their median, then the
training ratio and the cold start. Within a round, each images/s figure's peer windows alternate
with Forger's (`forger bench --peer-server`), so drift moves both alike; the rounds show how far
the ratios still spread.

    Tools/bench_summary.py .bench/round_1.txt .bench/round_2.txt ...
"""
import re
import statistics
import sys


def columns(line):
    return re.split(r"\s{2,}", line.strip())


def parse(path):
    rows, training, cold = {}, None, None
    header = None
    for line in open(path, encoding="utf-8"):
        if line.startswith("model  "):
            header = columns(line)
            continue
        if line.startswith("training  "):
            header = columns(line)
            continue
        if line.startswith("-----"):
            continue
        cells = columns(line)
        if header and header[0] == "model" and len(cells) == len(header) and cells[1].isdigit():
            for name, value in zip(header, cells):
                if name.startswith("x ") and value != "-":
                    rows.setdefault((cells[0], int(cells[1])), {})[name[2:]] = float(value)
        elif header and header[0] == "training" and len(cells) == len(header) and cells[0].startswith("C + conv D"):
            if cells[-1] != "-":
                training = float(cells[-1])
        m = re.search(r"cold start to first PNG.*forger (\d+) ms", line)
        if m:
            cold = int(m.group(1))
    return rows, training, cold


def main():
    paths = sys.argv[1:]
    if not paths:
        sys.exit("usage: bench_summary.py ROUND_OUTPUT...")
    for p in paths:
        try:
            open(p, encoding="utf-8").close()
        except OSError as e:
            sys.exit(f"bench_summary.py: cannot read round output {p}: {e.strerror}; run BENCH_ROUNDS=N Tools/bench.sh first")
    rounds = [parse(p) for p in paths]
    keys = sorted({k for r, _, _ in rounds for k in r})
    peers = sorted({p for r, _, _ in rounds for v in r.values() for p in v}, reverse=True)
    print(f"medians over {len(paths)} rounds")
    for peer in peers:
        print(f"Forger / {peer}, per round, and the median:")
        for key in keys:
            values = [r[key][peer] for r, _, _ in rounds if key in r and peer in r[key]]
            if values:
                listed = ", ".join(f"{v:.2f}" for v in values)
                print(f"  {key[0]} batch {key[1]:<4} {listed}: median {statistics.median(values):.2f}")
    training = [t for _, t, _ in rounds if t is not None]
    if training:
        print(f"training / PyTorch's best: {', '.join(f'{t:.2f}' for t in training)}: median {statistics.median(training):.2f}")
    cold = [c for _, _, c in rounds if c is not None]
    if cold:
        print(f"cold start ms: {', '.join(str(c) for c in cold)}: median {statistics.median(cold):g}")


if __name__ == "__main__":
    main()
