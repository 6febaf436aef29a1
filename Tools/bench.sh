#!/bin/sh
# The benchmark in one command: builds Forger (release), writes the three benchmark generators
# with fixed random weights (Tools/bench_models.py, Debian python3-torch) into .bench/ (ignored by
# git), makes the onnxruntime venv if missing and prints Forger's table beside the peers'. The
# peers' images/s are timed live (`forger bench --peer-server`, Tools/bench_peers.py --serve):
# every figure's windows alternate, Forger's then each peer's, so that a machine whose speed
# drifts moves both alike; so are PyTorch's training iterations/s. Their cold start comes from
# Tools/bench_peers.py run just before (`forger bench --peers`).
#
#   Tools/bench.sh [extra `forger bench` options, e.g. --batches 1,64, --training-only, --no-training]
#   BENCH_ROUNDS=3 Tools/bench.sh    # three rounds, then the medians of the ratios
#                                    # (Tools/bench_summary.py)
#
# Each images/s figure is the best over 1 and the machine's cores (threads for the peers, workers
# for Forger; `--threads` sets both). The peers' cold start runs at the largest of BENCH_THREADS
# (default: 1 and the machine's cores).
#
# The GAN training row (iterations/s, Forger and PyTorch): generator C (z 100 -> linear 6272 + BN
# + relu -> (128, 7, 7) -> convT(128, 64, 4, 2, 1) + BN + relu -> convT(64, 1, 4, 2, 1) + tanh)
# against the discriminator conv(1, 64, 4, 2, 1) + leaky relu 0.2 -> conv(64, 128, 4, 2, 1, no
# bias) + BN + leaky relu 0.2 -> flatten -> linear(6272, 1), batch 64 (--training-batch), Adam lr
# 2e-4 betas 0.5/0.999, one D step (real batch, then fake batch) and one G step per iteration,
# non-saturating loss. The real batch is a fixed tensor of values in [-1, 1), the same in both.
# PyTorch runs at 1 thread (OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1, torch.set_num_threads(1)), at
# its default threads, and at all cores when its default uses fewer; the ratio is to its best.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${BENCH_ROUNDS:-1}
case "$ROUNDS" in
    ''|*[!0-9]*|0) echo "bench: BENCH_ROUNDS must be a whole number of rounds, 1 or more (got '$ROUNDS')" >&2; exit 2 ;;
esac
B=.bench
mkdir -p "$B"
swift build -c release --static-swift-stdlib >/dev/null   # as Tools/setup.sh builds it
[ -f "$B/models/a/model.onnx" ] || /usr/bin/python3 Tools/bench_models.py "$B/models" >/dev/null 2>&1
if [ ! -x "$B/venv/bin/python" ] || ! "$B/venv/bin/python" -c "import onnxruntime" 2>/dev/null; then
    /usr/bin/python3 -m venv --system-site-packages "$B/venv" && "$B/venv/bin/pip" install -q onnxruntime \
        || echo "bench: could not install onnxruntime; its column will be missing" >&2
fi
PY=/usr/bin/python3
[ -x "$B/venv/bin/python" ] && PY="$B/venv/bin/python"
# Tools/bench_peers.py gives only the peers' cold start (none with --training-only); their
# images/s and training iterations/s come live, in windows that alternate with Forger's.
PEERS_ONLY=
case " $* " in
    *" --training-only "*) PEERS_ONLY=--training-only ;;
esac
i=1
while [ "$i" -le "$ROUNDS" ]; do
    rm -f "$B/peers.json"
    "$PY" Tools/bench_peers.py "$B/models" "$B/peers.json" --no-inference --no-training $PEERS_ONLY \
        --threads "${BENCH_THREADS:-1,$(nproc)}" 2>"$B/peers.log" || echo "bench: peers failed, see $B/peers.log" >&2
    {
        echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
        if [ -f "$B/peers.json" ]; then
            .build/release/forger bench --models "$B/models" --peers "$B/peers.json" \
                --peer-server "$PY Tools/bench_peers.py --serve $B/models 2>>$B/peers.log" "$@"
        else
            .build/release/forger bench --models "$B/models" --peer-server "$PY Tools/bench_peers.py --serve $B/models 2>>$B/peers.log" "$@"
        fi
    } | tee "$B/round_$i.txt"
    i=$((i + 1))
done
if [ "$ROUNDS" -gt 1 ]; then
    echo
    /usr/bin/python3 Tools/bench_summary.py $(i=1; while [ "$i" -le "$ROUNDS" ]; do echo "$B/round_$i.txt"; i=$((i + 1)); done)
fi
