#!/usr/bin/env bash
# Installs Forger's system libraries (Debian) when missing and builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in libopenblas-dev libpng-dev libgif-dev zlib1g-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# The Swift runtime and Foundation linked in: a cold start skips resolving their symbols
# (about 8 of 48 ms to the first PNG of benchmark A; README "Speed").
swift build -c release --static-swift-stdlib --product forger
