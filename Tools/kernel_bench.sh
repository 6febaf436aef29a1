#!/bin/sh
# FastGemm's kernel, the direct kernel and the channel-vector kernel alone against the FMA loop
# of the path's width (Tools/kernel_bench.c), on each vector path this CPU runs (or the ones
# named), on one core, then on both cores at once (two copies side by side, each line prefixed
# by its copy); last, the channel-vector kernel fed as the plan feeds it.
#   Tools/kernel_bench.sh [avx512|avx2|neon ...]
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
case "$(uname -m)" in
x86_64) kernels="Sources/CGemm/kernels_avx512.c Sources/CGemm/kernels_avx2.c"; all="avx512 avx2" ;;
*) kernels=Sources/CGemm/kernels_neon.c; all=neon ;;
esac
cgemm="Sources/CGemm/dispatch.c $kernels"
clang -O2 -I Sources/CGemm/include -I Sources/CGemm Tools/kernel_bench.c $cgemm -lm -o "$out/kernel_bench"
clang -O2 -I Sources/CGemm/include -I Sources/CGemm Tools/kernel_in_place.c $cgemm -o "$out/kernel_in_place"
for isa in ${*:-$all}; do
    "$out/kernel_bench" "$isa" >/dev/null 2>&1 || { echo "$isa: this CPU cannot run it"; continue; }
    echo "== $isa path, one copy:"
    "$out/kernel_bench" "$isa"
    echo "== $isa path, two copies at once:"
    "$out/kernel_bench" "$isa" | sed 's/^/  [1] /' > "$out/one.txt" &
    "$out/kernel_bench" "$isa" | sed 's/^/  [2] /' > "$out/two.txt"
    wait
    cat "$out/one.txt" "$out/two.txt"
    # The channel-vector kernel on A's third layer as the plan feeds it (Tools/kernel_in_place.c):
    # windows of 1 or 3 images padded before each call and a fresh output; then without the copy,
    # then into one output.
    echo "== $isa path, in place, one core:"
    for g in 1 3; do for mode in 0 1 2; do FORGER_ISA=$isa "$out/kernel_in_place" "$g" "$mode"; done; done
done
