#!/usr/bin/env bash
# GIF encoding benchmark: Forger vs Pillow vs ImageMagick on 64 deterministic frames each of
# 256x256 RGB and 224x224 grey. Builds in release and prints one table.
# Peers (optional): apt-get install -y python3-pil imagemagick
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --product forger >/dev/null   # as Tools/setup.sh builds it
.build/release/forger bench-imaging "$@"
