#!/usr/bin/env bash
# test-granularity.sh - the whole C test suite (everything ctest holds) with
# the library built to align its windows to 64 KiB on POSIX, as it does on
# Windows (CMake -DSMMAP_GRANULARITY=65536), in build-gran64/.
#
# What this proves: no test, and nothing in the library, takes the page
# size for the library's alignment or the other way round. The tests read
# the library's granularity from its OS table (smmap__os.granularity())
# and the system's page from sysconf(), so on this 4 KiB-page machine they
# run with a granularity 16 times the page, as a 16 or 64 KiB-page aarch64
# or ppc64 kernel would give them (qemu-user cannot: its guest page is the
# host kernel's). What it cannot prove: the kernel's own behaviour with
# large pages (a truncation then loses whole 64 KiB pages).
#
#   scripts/test-granularity.sh
#   SMMAP_GRANULARITY=16384 SMMAP_GRAN_BUILD=/tmp/b scripts/test-granularity.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
granularity=${SMMAP_GRANULARITY:-65536}
build=${SMMAP_GRAN_BUILD:-$root/build-gran$((granularity / 1024))}
jobs=${SMMAP_JOBS:-$(nproc)}

rm -rf "$build"
# The thread test's files and reads are sized in granules: 16 times the
# bytes per operation of a 4 KiB build, so fewer operations in the same
# time (as under wine).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
    -DSMMAP_GRANULARITY="$granularity" \
    -DSMMAP_THREADS_ARGS="--iterations;4000;--timeout;300" >/dev/null
if ! cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1; then
    grep -E 'error|warning' "$build/build.log" >&2 || tail -40 "$build/build.log" >&2
    echo "test-granularity: THE BUILD FAILED (see above)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

log="$build/ctest.log"
set +e
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 600) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# ctest: "100% tests passed, 0 tests failed out of 47"
summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
if [ -z "$summary" ]; then
    echo "test-granularity: ctest printed no summary (no tests?)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
echo "test-granularity (SMMAP_GRANULARITY=$granularity, page $(getconf PAGESIZE)):"
echo "$((total - failed)) passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$total" -gt 0 ]
