#!/bin/sh
# The post's momentum experiment in numbers: runs `forger toy` at momentum 0.6 and 0.9 for
# seeds 0-2 with --trace, and prints how much G's sample mean still swings over the second
# half of training (standard deviation of the per-frame mean, epochs 200-400) and its final value.
#
#   Tools/toy_momentum.sh [forger binary, default .build/release/forger]
set -eu
cd "$(dirname "$0")/.."
F=${1:-.build/release/forger}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "momentum seed  swing(sd of mean, 2nd half)  final mean  final sd   (target -2, 0.5)"
for m in 0.6 0.9; do
    for s in 0 1 2; do
        "$F" toy --momentum "$m" --seed "$s" -o "$T/toy.gif" --trace "$T/trace.csv" -q
        awk -F, -v m="$m" -v s="$s" 'NR > 1 { e[NR] = $1; x[NR] = $2; sd[NR] = $3; n = NR }
            END { k = 0; t = 0; q = 0
                  for (i = 2; i <= n; i++) if (e[i] >= 200) { k++; t += x[i]; q += x[i] * x[i] }
                  if (k == 0) { print "no frames after epoch 200" > "/dev/stderr"; exit 1 }
                  mu = t / k; v = q / k - mu * mu; if (v < 0) v = 0
                  printf "%-8s %-5s %-30.3f %-11.3f %.3f\n", m, s, sqrt(v), x[n], sd[n] }' "$T/trace.csv"
    done
done
