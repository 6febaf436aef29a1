#!/usr/bin/env bash
# Fuzzes Forger's readers with libFuzzer: Tools/fuzz.sh TARGET... [SECONDS]
#   Tools/fuzz.sh all 15            every target for 15 s each (what .ci/run does)
#   Tools/fuzz.sh npy safetensors 300
# Builds Sources/forger-fuzz with -sanitize=fuzzer,address in a checked debug build (Swift's
# bounds checks plus AddressSanitizer) into .build-fuzz, then runs each target from its
# committed seeds (Fuzz/corpus/TARGET) plus what earlier runs found (.build-fuzz/corpus/TARGET).
# A trap, crash, sanitizer report, input slower than 10 s or over 2 GB of memory is a finding:
# its input lands in .build-fuzz/findings/TARGET/ and the script exits 1.
# FUZZ_JOBS=N runs N targets at once (default 1). FUZZ_NO_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
all=(model-json model-dir safetensors pytorch npy latents vectors recipe png gif idx png-folder expression)
seconds=60
targets=()
for arg in "$@"; do
    if [[ "$arg" =~ ^[0-9]+$ ]]; then seconds=$arg
    elif [ "$arg" = all ]; then targets+=("${all[@]}")
    elif [[ " ${all[*]} " == *" $arg "* ]]; then targets+=("$arg")
    else echo "unknown target '$arg'; targets: all ${all[*]}" >&2; exit 2
    fi
done
[ ${#targets[@]} -gt 0 ] || { echo "usage: Tools/fuzz.sh TARGET... [SECONDS]  (targets: all ${all[*]})" >&2; exit 2; }

if [ -z "${FUZZ_NO_BUILD:-}" ]; then
    swift build --scratch-path .build-fuzz --product forger-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFORGER_LIBFUZZER 2>&1 \
        | grep -v "Cannot export local symbol" || true
fi
binary=.build-fuzz/debug/forger-fuzz
[ -x "$binary" ] || { echo "the fuzz build failed" >&2; exit 1; }

# The Swift backtracer would hold each crashing process for half a minute; ASan reports instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0}

run_one() {
    local t=$1 work=.build-fuzz/corpus/$1 found=.build-fuzz/findings/$1 log=.build-fuzz/logs/$1.log
    mkdir -p "$work" "$found" .build-fuzz/logs
    local status=0
    FORGER_FUZZ_TARGET=$t "$binary" "$work" "Fuzz/corpus/$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$found/" >"$log" 2>&1 || status=$?
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ "$status" -ne 0 ]; then
        echo "$t: FINDING after ${runs:-?} runs (exit $status); input in $found/, log $log"
        grep -m3 -E "ERROR|Fatal error|deadly signal|out-of-memory|timeout" "$log" | sed 's/^/    /'
        return 1
    fi
    echo "$t: ${runs:-?} runs in ${seconds} s, no finding"
}

jobs=${FUZZ_JOBS:-1}
failed=0
pids=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}" || failed=$((failed + 1))
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
# One closing line a test runner would print: targets without a finding, targets with one.
echo "fuzz: $(( ${#targets[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
