#!/bin/sh
# The projection figures of README.md and docs/projection.md:
#   round trip: 16 held-out seeds (100000-100015) of mnist, faces28 and faces64 drawn, projected
#               back; mean PSNR and how far the latents land from the true ones;
#   real faces: 16 LFW crops (every 827th file in name order) projected into faces64 and
#               faces28, beside the best of 10,000 random samples for each target (PyTorch).
# Usage: Tools/projection_figures.sh [FORGER] [LFW_DIR]   (LFW_DIR: lfwcrop-color-64 extracted)
# Extra arguments for every `forger project` run can be given in PROJECT_ARGS.
set -eu
F=${1:-.build/release/forger}
LFW=${2:-/tmp/lfwcrop-color-64}
W=${TMPDIR:-/tmp}/forger-projection
PY=/usr/bin/python3
rm -rf "$W"; mkdir -p "$W/lfw16"
for m in mnist faces28 faces64; do
    $F sample $m -n 16 --seed 100000 --each "$W/$m-seeds" -q
    rm "$W/$m-seeds/latents.json"
    mv "$W/$m-seeds/latents.npy" "$W/$m-true.npy"
    echo "== round trip $m"
    $F project $m "$W/$m-seeds" -o "$W/$m-seeds.json" --npy "$W/$m-found.npy" ${PROJECT_ARGS:-} 2>&1 | tail -1
    $PY -c "
import numpy as np, sys
t, f = np.load('$W/$m-true.npy'), np.load('$W/$m-found.npy')
r = np.linalg.norm(f - t, axis=1) / np.linalg.norm(t, axis=1)
print('latent distance |z - z*| / |z*|: median %.3f, max %.3f' % (np.median(r), r.max()))"
done
ls "$LFW" | sort | awk 'NR % 827 == 1' | head -16 | while read -r f; do cp "$LFW/$f" "$W/lfw16/"; done
for m in faces64 faces28; do
    echo "== 16 LFW crops into $m"
    $F project $m "$W/lfw16" -o "$W/lfw-$m.json" --grid "$W/lfw-$m-cmp.png" ${PROJECT_ARGS:-} 2>&1 | grep -E "PSNR"
    $PY Tools/projection_torch.py best-random Models/$m "$W/lfw-$m.targets.npy" --samples 10000
done
echo "outputs in $W"
