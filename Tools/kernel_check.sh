#!/bin/sh
# The CGemm kernels against plain loops (Tools/kernel_check.c): natively on every vector path
# this CPU runs, then the NEON instance cross-compiled for aarch64 (clang --target, with the
# libraries of Debian's gcc-aarch64-linux-gnu, statically linked) and run under
# qemu-aarch64-static (Debian's qemu-user-static). On aarch64 itself, the native run is NEON's.
#   Tools/kernel_check.sh
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
src="Tools/kernel_check.c Sources/CGemm/dispatch.c"
flags="-O2 -Wall -Werror -I Sources/CGemm/include -I Sources/CGemm"
case "$(uname -m)" in
x86_64)
    clang $flags $src Sources/CGemm/kernels_avx512.c Sources/CGemm/kernels_avx2.c -lm -o "$out/native"
    "$out/native"
    command -v qemu-aarch64-static >/dev/null || { echo "kernel_check: qemu-aarch64-static is missing (apt-get install qemu-user-static)" >&2; exit 1; }
    clang --target=aarch64-linux-gnu -static $flags $src Sources/CGemm/kernels_neon.c -lm -o "$out/neon"
    qemu-aarch64-static "$out/neon"
    ;;
aarch64)
    clang $flags $src Sources/CGemm/kernels_neon.c -lm -o "$out/native"
    "$out/native"
    ;;
*)
    echo "kernel_check: no vector path for $(uname -m)" >&2; exit 1
    ;;
esac
