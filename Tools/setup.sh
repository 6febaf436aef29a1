#!/usr/bin/env bash
# Installs Forger's system libraries (Debian) when missing and builds the release binary.
#   Tools/setup.sh                  build .build/release/forger (it finds the package's Models/)
#   Tools/setup.sh --prefix DIR     also install DIR/bin/forger and the shipped models into
#                                   DIR/share/forger/models, where the installed binary looks
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "setup.sh: --prefix needs a folder" >&2; exit 2; }; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        *) echo "setup.sh: unknown option '$1' (use --prefix DIR)" >&2; exit 2 ;;
    esac
done
need=()
for pkg in libopenblas-dev libpng-dev libgif-dev zlib1g-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# The Swift runtime and Foundation linked in: a cold start skips resolving their symbols.
swift build -c release --static-swift-stdlib --product forger
if [ -n "$prefix" ]; then
    mkdir -p "$prefix/bin" "$prefix/share/forger/models"
    install -m 755 .build/release/forger "$prefix/bin/forger"
    for model in Models/*/; do
        [ -f "$model/model.json" ] || continue
        name=$(basename "$model")
        rm -rf "$prefix/share/forger/models/$name"
        cp -r "$model" "$prefix/share/forger/models/$name"
    done
    echo "installed $prefix/bin/forger and $(ls "$prefix/share/forger/models" | wc -l) models in $prefix/share/forger/models"
fi
