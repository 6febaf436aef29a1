#!/bin/sh
# Steps per second of `forger project` on faces64 beside PyTorch doing the same optimisation
# (Tools/projection_torch.py bench: same loss, prior term, Adam, schedule, starts and steps)
# on the same targets, at the same thread count, in one run.
# Usage: Tools/bench_projection.sh [FORGER] [IMAGES...]   (default: the first 4 LFW crops Tools/projection_figures.sh copied)
# STEPS (default 100), RESTARTS (default 3) and THREADS (default: the core count, which Forger uses) can be set in the environment.
set -eu
F=${1:-.build/release/forger}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- $(ls "${TMPDIR:-/tmp}"/forger-projection/lfw16/*.png | head -4)
STEPS=${STEPS:-100}; RESTARTS=${RESTARTS:-3}; THREADS=${THREADS:-$(nproc)}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores$(grep -q avx512f /proc/cpuinfo && echo ', AVX-512')"
echo "$# images x $((RESTARTS + 1)) starts, $STEPS steps"
$F project faces64 "$@" -o "$W/p.json" --steps "$STEPS" --restarts "$RESTARTS" 2>&1 \
    | sed -n 's/.*finished after \([0-9]*\) steps in \([0-9.]*\) s (\([0-9.]*\) steps\/s); mean PSNR \([0-9.]*\) dB.*/forger: \1 steps, \2 s, \3 steps\/s, mean PSNR \4 dB/p'
/usr/bin/python3 "$(dirname "$0")/projection_torch.py" bench Models/faces64 "$W/p.targets.npy" \
    --steps "$STEPS" --restarts "$RESTARTS" --threads "$THREADS"
