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
. "$(dirname "${BASH_SOURCE[0]}")/ctest-build-run.sh"
ctest_build_run test-granularity "$build" "$jobs" "test-granularity (SMMAP_GRANULARITY=$granularity, page $(getconf PAGESIZE)):"
