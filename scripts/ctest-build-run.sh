# ctest-build-run.sh - sourced by the scripts that build the C suite in a
# tree of their own and run it with ctest (test-hardened.sh,
# test-granularity.sh, test-m32.sh, test-windows.sh, test-cross.sh). Each
# function ends with the script's "N passed, N failed" line when it fails
# before the counts exist.
#
#   ctest_build_run NAME BUILD_DIR JOBS HEADING
#       build every target of a configured tree (a failed build fails
#       before any test runs), run ctest, print HEADING and the counts;
#       returns 0 only when every test passed and some ran.
#   ctest_build_keep_going NAME BUILD_DIR JOBS
#       build every target, going on past one that fails so that every test
#       that builds still runs; sets build_ok (0 after a failure).
#   ctest_tee BUILD_DIR LOG CTEST_ARGS...
#       run ctest there, its output also in LOG; sets ctest_status.
#   ctest_counts NAME LOG
#       ctest's summary line in LOG as ctest_total and ctest_failed; without
#       one, prints "0 passed, 1 failed" and returns 1.
#   ctest_verdict NAME HEADING
#       after the three above: print HEADING and the counts (a test whose
#       program did not build counts as failed, and so does the build);
#       returns 0 only when all built, every test passed and some ran.

ctest_build_keep_going() {
    local name=$1 build=$2 jobs=$3 keep_going=-k
    [ "${CMAKE_GENERATOR:-}" = Ninja ] && keep_going="-k 0"
    build_ok=1
    # shellcheck disable=SC2086 # keep_going is one or two words
    cmake --build "$build" -j "$jobs" -- $keep_going || build_ok=0
    [ "$build_ok" = 1 ] || echo "$name: THE BUILD FAILED (see above); running what was built" >&2
}

ctest_tee() {
    local build=$1 log=$2
    shift 2
    set +e
    (cd "$build" && ctest "$@") 2>&1 | tee "$log"
    ctest_status=${PIPESTATUS[0]}
    set -e
}

ctest_counts() {
    local name=$1 log=$2 summary
    # ctest: "100% tests passed, 0 tests failed out of 47"
    summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
    if [ -z "$summary" ]; then
        echo "$name: ctest printed no summary (no tests?)" >&2
        echo "0 passed, 1 failed"
        return 1
    fi
    ctest_failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
    ctest_total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
}

ctest_verdict() {
    local name=$1 heading=$2
    [ "$build_ok" = 1 ] || echo "$name: the build failed (tests it did not build count as failed)"
    echo "$heading"
    echo "$((ctest_total - ctest_failed)) passed, $ctest_failed failed"
    [ "$build_ok" = 1 ] && [ "$ctest_status" -eq 0 ] && [ "$ctest_failed" -eq 0 ] &&
        [ "$ctest_total" -gt 0 ]
}

ctest_build_run() {
    local name=$1 build=$2 jobs=$3 heading=$4
    if ! cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1; then
        grep -E 'error|warning' "$build/build.log" >&2 || tail -40 "$build/build.log" >&2
        echo "$name: THE BUILD FAILED (see above)" >&2
        echo "0 passed, 1 failed"
        return 1
    fi
    build_ok=1
    ctest_tee "$build" "$build/ctest.log" --output-on-failure -j "$jobs" --timeout 600
    ctest_counts "$name" "$build/ctest.log" || return 1
    ctest_verdict "$name" "$heading"
}
