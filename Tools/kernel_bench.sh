#!/bin/sh
# FastGemm's kernel, the direct kernel and the channel-vector kernel alone against the FMA peak (Tools/kernel_bench.c), on
# one core, then on both cores at once (two copies side by side, each line prefixed by its copy).
#   Tools/kernel_bench.sh
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clang -O2 -I Sources/CGemm/include -I Sources/CGemm Tools/kernel_bench.c Sources/CGemm/gemm.c Sources/CGemm/direct.c Sources/CGemm/chanvec.c -lm -o "$out/kernel_bench"
echo "one copy:"
"$out/kernel_bench"
echo "two copies at once:"
"$out/kernel_bench" | sed 's/^/  [1] /' > "$out/one.txt" &
"$out/kernel_bench" | sed 's/^/  [2] /' > "$out/two.txt"
wait
cat "$out/one.txt" "$out/two.txt"
