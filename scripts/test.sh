#!/usr/bin/env bash
# test.sh - the body of `make test`: every test, three ways.
#
#   1. release build (build/, RelWithDebInfo): unit + integration at W=1 and W=2
#   2. AddressSanitizer + UBSan build (build-asan/): the same tests
#   3. ThreadSanitizer build (build-tsan/): unit tests + the W=2 integration tests
#
# The last line printed is "N passed, M failed" over all three runs; the exit
# status is non-zero if anything failed (a failed build counts as a failure).
#
# Environment: SKIP_ASAN=1 / SKIP_TSAN=1 skip a stage; JOBS (default 2) is
# the build and ctest parallelism; CTEST_ARGS adds ctest arguments (e.g.
# "-R integration/07"); BUILD_DIR (default "build") names the release
# directory, the others are BUILD_DIR-asan and BUILD_DIR-tsan.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

JOBS=${JOBS:-2}
B=${BUILD_DIR:-build}
CTEST_ARGS=${CTEST_ARGS:-}
passed=0
failed=0
summary=()
RUNNER=()  # a command prefix for ctest (setarch for TSan)

scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

# build DIR [cmake args...]: configure and build; 0 on success.
build() {
    local dir=$1
    shift
    echo "== configure and build $dir" >&2
    mkdir -p "$dir"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir/configure.log" 2>&1 \
        || { cat "$dir/configure.log" >&2; return 1; }
    cmake --build "$dir" -j"$JOBS" 2>&1 | tail -n 40 >&2
    return "${PIPESTATUS[0]}"
}

# run_ctest NAME DIR [ctest args...]: run ctest, add its counts to the totals.
run_ctest() {
    local name=$1 dir=$2
    shift 2
    local log="$dir/ctest.log"
    echo "== $name: ctest in $dir" >&2
    # shellcheck disable=SC2086
    (cd "$dir" && "${RUNNER[@]}" ctest --output-on-failure -j"$JOBS" "$@" $CTEST_ARGS) 2>&1 | tee "$log"
    local line n m
    line=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        n=$(echo "$line" | awk '{print $1}')
        m=$(echo "$line" | awk '{print $NF}')
    elif grep -q 'No tests were found' "$log"; then
        n=0 m=0
    else
        n=1 m=1  # ctest itself failed
    fi
    passed=$((passed + m - n))
    failed=$((failed + n))
    summary+=("$name: $((m - n)) passed, $n failed")
}

stage_failed() {
    failed=$((failed + 1))
    summary+=("$1: build failed")
}

# 1. release
if build "$B"; then
    run_ctest release "$B"
else
    stage_failed release
fi

# 2. ASan + UBSan
if [ "${SKIP_ASAN:-0}" != 1 ]; then
    if build "$B-asan" -DALDIS_ASAN=ON; then
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            run_ctest asan "$B-asan"
    else
        stage_failed asan
    fi
fi

# 3. TSan: clang's runtime is the more dependable one; gcc if clang is absent.
if [ "${SKIP_TSAN:-0}" != 1 ]; then
    tsan_cc=()
    command -v clang >/dev/null && tsan_cc=(-DCMAKE_C_COMPILER=clang)
    if build "$B-tsan" -DALDIS_TSAN=ON "${tsan_cc[@]}"; then
        # Kernels with large mmap randomisation place memory where TSan
        # cannot shadow it ("unexpected memory mapping"): run without
        # address-space randomisation when setarch allows it.
        if setarch "$(uname -m)" -R true 2>/dev/null; then
            RUNNER=(setarch "$(uname -m)" -R)
        fi
        TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1 \
            run_ctest tsan "$B-tsan" -L '^(unit|w2)$'
        RUNNER=()
    else
        stage_failed tsan
    fi
fi

echo
for s in "${summary[@]}"; do echo "  $s"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
