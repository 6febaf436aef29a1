#!/bin/sh
# The inference benchmark in one command: builds Forger (release), writes the three benchmark
# generators with fixed random weights (Tools/bench_models.py, Debian python3-torch) into .bench/
# (ignored by git), makes the onnxruntime venv if missing, times the peers (Tools/bench_peers.py)
# and prints Forger's table beside theirs (`forger bench --peers`).
#
#   Tools/bench.sh [extra `forger bench` options, e.g. --batches 1,64]
#
# BENCH_THREADS lists the peers' thread counts; each figure is a peer's best of them
# (default: 1 and the machine's cores; Forger runs one worker per core).
set -eu
cd "$(dirname "$0")/.."
B=.bench
mkdir -p "$B"
swift build -c release >/dev/null
[ -f "$B/models/a/model.onnx" ] || /usr/bin/python3 Tools/bench_models.py "$B/models" >/dev/null 2>&1
if [ ! -x "$B/venv/bin/python" ] || ! "$B/venv/bin/python" -c "import onnxruntime" 2>/dev/null; then
    /usr/bin/python3 -m venv --system-site-packages "$B/venv" && "$B/venv/bin/pip" install -q onnxruntime \
        || echo "bench: could not install onnxruntime; its column will be missing" >&2
fi
rm -f "$B/peers.json"
PY=/usr/bin/python3
[ -x "$B/venv/bin/python" ] && PY="$B/venv/bin/python"
BATCHES=$(echo " $* " | sed -n 's/.* --batches \([0-9,]*\) .*/\1/p')
"$PY" Tools/bench_peers.py "$B/models" "$B/peers.json" --batches "${BATCHES:-1,16,64,256}" \
    --threads "${BENCH_THREADS:-1,$(nproc)}" 2>"$B/peers.log" || echo "bench: peers failed, see $B/peers.log" >&2
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -f "$B/peers.json" ]; then
    exec .build/release/forger bench --models "$B/models" --peers "$B/peers.json" "$@"
else
    exec .build/release/forger bench --models "$B/models" "$@"
fi
