#!/usr/bin/env bash
# Writes the fuzz seed corpus, Fuzz/corpus/TARGET/, from the test fixtures, Models/mnist and
# small outputs of the built forger (default .build/debug/forger; FORGER=path to override).
# Every seed is a small valid file, so the fuzzer starts from inputs that reach deep.
set -euo pipefail
cd "$(dirname "$0")/.."
forger=${FORGER:-.build/debug/forger}
[ -x "$forger" ] || { echo "build forger first (swift build)" >&2; exit 1; }
out=Fuzz/corpus
rm -rf "$out"
for t in model-json model-dir safetensors pytorch npy latents vectors recipe png gif idx png-folder expression; do
    mkdir -p "$out/$t"
done
fx=Tests/NNTests/Fixtures
mf=Tests/ModelIOTests/Fixtures
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp Models/mnist/model.json "$out/model-json/mnist.json"
for m in mlp dcgan_small options cond_concat cond_multiply theano_mnist; do
    cp "$fx/$m/model.json" "$out/model-json/$m.json"
done
cp "$fx/mlp/weights.safetensors" "$out/model-dir/mlp.safetensors"
cp "$fx/mlp/weights.safetensors" "$out/safetensors/mlp.safetensors"
cp "$mf/import/mlp_prefixed.safetensors" "$out/safetensors/prefixed.safetensors"
for f in state_dict_zip state_dict_legacy state_dict_deflated state_dict_zip64 state_dict_protocol4 nested_legacy nested_zip; do
    cp "$mf/checkpoints/$f.pt" "$out/pytorch/$f.pt"
done
cp "$mf/import/cond_zip.pt" "$out/pytorch/cond_zip.pt"
cp "$fx/mlp/input.npy" "$out/npy/mlp_input.npy"
cp "$mf/import/cond_input.npy" "$out/npy/cond_input.npy"
python3 - "$out/npy" <<'PY'
import sys, numpy as np
d = sys.argv[1]
np.save(f"{d}/f8_3d.npy", np.arange(24, dtype="<f8").reshape(2, 3, 4))
np.save(f"{d}/scalar.npy", np.float32(1.5))
np.save(f"{d}/empty.npy", np.zeros((0, 4), dtype="<f4"))
with open(f"{d}/v2.npy", "wb") as f:
    np.lib.format.write_array(f, np.ones((2, 2), dtype="<f4"), version=(2, 0))
PY

m="$fx/mlp"
"$forger" sample "$m" -n 4 --seed 1 --scale 2 --quiet -o "$work/grid.png"
"$forger" sample "$m" -n 3 --seed 5 --quiet --each "$work/each"
"$forger" walk "$m" --keyframes seed:1,seed:2 --frames 3 --scale 2 --quiet -o "$work/walk.gif"
"$forger" sweep "$m" --base seed:3 --dims 0..1 --steps 3 --quiet -o "$work/sweep.gif"
(cd "$work" && "$OLDPWD/$forger" vector make "$OLDPWD/$m" smile --with seed:3,seed:4 --without seed:5 >/dev/null)
cp "$work/grid.png" "$out/png/grid.png"
cp "$work/each/"*.png "$out/png/"
cp Models/mnist/nearest.png "$out/png/mnist-nearest.png"
cp "$work/walk.gif" "$out/gif/walk.gif"
cp "$work/sweep.gif" "$out/gif/sweep.gif"
cp "$work/grid.recipe.json" "$out/recipe/grid.recipe.json"
cp "$work/walk.recipe.json" "$out/recipe/walk.recipe.json"
cp "$work/each/latents.json" "$out/latents/latents.json"
cp "$work/each/latents.npy" "$out/npy/latents.npy"
cp "$work/vectors.json" "$out/vectors/vectors.json"
# png-folder: one flag byte (bit 0: class subfolders), then PNGs back to back.
{ printf '\001'; cat "$work/each/"*.png; } > "$out/png-folder/classed"
{ printf '\006'; cat "$work/grid.png" "$work/each/"*.png; } > "$out/png-folder/resized-grey"

# IDX: 3 images of 2x3 bytes, labels, a 4-D colour file and a gzipped copy.
printf '\000\000\010\003\000\000\000\003\000\000\000\002\000\000\000\003' > "$out/idx/images-idx3-ubyte"
printf '\000\020\040\060\100\120\140\160\200\220\240\260\300\320\340\360\377\177' >> "$out/idx/images-idx3-ubyte"
printf '\000\000\010\001\000\000\000\003\001\002\003' > "$out/idx/labels-idx1-ubyte"
printf '\000\000\010\004\000\000\000\001\000\000\000\002\000\000\000\002\000\000\000\003' > "$out/idx/colour-idx4-ubyte"
printf '\377\000\000\000\377\000\000\000\377\200\200\200' >> "$out/idx/colour-idx4-ubyte"
gzip -9nc "$out/idx/images-idx3-ubyte" > "$out/idx/images-idx3-ubyte.gz"

e="$out/expression"
printf '%s' 'mean(seed:1,seed:2,seed:3) - mean(seed:4, seed:5) + 0.5*mean(seed:7,seed:8) + smile' > "$e/dcgan"
printf '%s' 'a - 0.5*(b + mean(c, a))' > "$e/parens"
printf '%s' '-a*2 + b/4 - -c*1.5e-3' > "$e/unary"
printf '%s' '2*(seed:18446744073709551615 + x_1)*3' > "$e/bigseed"
du -sh Fuzz/corpus
