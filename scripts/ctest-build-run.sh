# ctest-build-run.sh - sourced by scripts/test-hardened.sh and
# test-granularity.sh: build every target of a configured tree (a failed
# build fails before any test runs), run ctest, and print
# "N passed, N failed" under a heading. Usage, after configuring:
#   ctest_build_run NAME BUILD_DIR JOBS HEADING
# Returns 0 only when every test passed and some ran.
ctest_build_run() {
    local name=$1 build=$2 jobs=$3 heading=$4 log summary status failed total
    if ! cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1; then
        grep -E 'error|warning' "$build/build.log" >&2 || tail -40 "$build/build.log" >&2
        echo "$name: THE BUILD FAILED (see above)" >&2
        echo "0 passed, 1 failed"
        return 1
    fi
    log="$build/ctest.log"
    set +e
    (cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 600) 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    # ctest: "100% tests passed, 0 tests failed out of 47"
    summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
    if [ -z "$summary" ]; then
        echo "$name: ctest printed no summary (no tests?)" >&2
        echo "0 passed, 1 failed"
        return 1
    fi
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
    total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
    echo "$heading"
    echo "$((total - failed)) passed, $failed failed"
    [ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$total" -gt 0 ]
}
