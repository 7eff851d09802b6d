#!/usr/bin/env bash
# test-tool.sh - builds the smmap tool and its tests from a clean tree into
# build-test-tool/ and runs them (ctest -L-free: the tool_* tests of
# tests/tool), with gcc and with clang. Exits non-zero on any failure; the
# last line is "N passed, N failed" over the ctest tests run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
missing=()
for tool in cmake gcc clang bash truncate dd; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "missing: ${missing[*]}; install with:" >&2
    echo "  apt-get install -y cmake gcc clang coreutils" >&2
    exit 1
fi

passed=0
failed=0
for cc in gcc clang; do
    build=$root/build-test-tool-$cc
    rm -rf "$build"
    echo "== $cc: configure and build ($build)"
    # gcc without the benchmarks (`smmap bench` says so), clang with them
    # when bench/ is there (`smmap bench` dispatches to smmap_bench_main).
    bench=OFF
    [[ $cc == clang ]] && bench=ON
    cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DSMMAP_BUILD_BENCH=$bench >/dev/null
    cmake --build "$build" --target smmap smmap_test_fnv1a64 -j 2 >/dev/null
    echo "== $cc: ctest -R '^tool_'"
    if (cd "$build" && ctest -R '^tool_' --output-on-failure) >"$build/ctest.log" 2>&1; then :; fi
    cat "$build/ctest.log"
    p=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' "$build/ctest.log" || true)
    f=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(Failed|Not Run|Timeout|Exception)' "$build/ctest.log" || true)
    if ((p == 0)); then
        echo "no tool test ran with $cc" >&2
        f=$((f + 1))
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
((failed == 0))
