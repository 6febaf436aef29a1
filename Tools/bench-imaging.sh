#!/usr/bin/env bash
# GIF encoding benchmark: Forger vs Pillow vs ImageMagick on 64 deterministic frames each of
# 256x256 RGB and 224x224 grey. Builds in release and prints one table.
# Peers (optional): apt-get install -y python3-pil imagemagick
# Outputs (GIFs, source frames) go to ${FORGER_BENCH_DIR:-/tmp}/forger-bench-imaging.
set -euo pipefail
cd "$(dirname "$0")/.."
FORGER_BENCH=1 swift test -c release --filter 'ImagingTests.ImagingBenchmarkTests/testBenchmark' 2>&1 \
  | grep -v -E "^(\[|Test Suite|Test Case|Building|Compiling|Build complete|Write|Planning)"
