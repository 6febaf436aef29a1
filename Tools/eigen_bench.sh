#!/bin/bash
# Times the Jacobi eigen-solver Forger used before issue 17 (taken from git, commit 66de209)
# against the LAPACK dsyevr wrapper that replaced it, on SeFa-like Gram matrices W W^T of
# 16, 100 and 256 rows, and prints the largest relative eigenvalue difference.
# Run from the repository root: bash Tools/eigen_bench.sh
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git show 66de209:Sources/Latent/SeFa.swift | sed -n '/^public struct SymmetricEigen/,/^\/\/\/ SeFa, closed-form/p' | sed '$d' \
    | sed 's/public struct SymmetricEigen/struct Jacobi/; s/-> SymmetricEigen/-> Jacobi/; s/SymmetricEigen(/Jacobi(/g' > "$work/jacobi.swift"
{ echo "import CBLAS"; sed -n '/^public struct SymmetricEigen/,/^\/\/\/ Minimum-norm/p' Sources/Latent/LinearAlgebra.swift | sed '$d' \
    | sed 's/throw LatentError.degenerate(.*)/fatalError()/'; } > "$work/lapack.swift"
swiftc -O -I Sources/CBLAS -lopenblas "$work/jacobi.swift" "$work/lapack.swift" Tools/eigen_bench/main.swift -o "$work/eigen_bench" 2>/dev/null
OPENBLAS_NUM_THREADS=1 "$work/eigen_bench"
