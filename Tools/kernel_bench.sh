#!/bin/sh
# FastGemm's kernel, the direct kernel and the channel-vector kernel alone against the FMA peak
# (Tools/kernel_bench.c), on one core, then on both cores at once (two copies side by side, each
# line prefixed by its copy); last, the channel-vector kernel fed as the plan feeds it.
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
# The channel-vector kernel on A's third layer as the plan feeds it (Tools/kernel_in_place.c):
# windows of 1 or 3 images padded before each call and a fresh output; then without the copy,
# then into one output.
clang -O2 -I Sources/CGemm/include -I Sources/CGemm Tools/kernel_in_place.c Sources/CGemm/chanvec.c -o "$out/kernel_in_place"
echo "in place, one core:"
for g in 1 3; do for mode in 0 1 2; do "$out/kernel_in_place" "$g" "$mode"; done; done
