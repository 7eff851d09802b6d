#!/usr/bin/env bash
# test-windows.sh - the whole C test suite (everything ctest holds)
# cross-compiled for 64-bit Windows with Debian's mingw-w64 into
# build-win64/, each test .exe run under wine64 (ctest's
# CMAKE_CROSSCOMPILING_EMULATOR). Exits non-zero on any failure; never skips:
# a missing cross compiler or wine is a failure that names the packages.
#
# Wine runs in a fresh prefix in a temporary directory (its first start
# takes 10-60 s: wineboot creates the prefix once, before the tests), with
# one wineserver kept alive for the whole run and stopped at the end.
#
#   scripts/test-windows.sh
#   SMMAP_WIN64_BUILD=/tmp/b SMMAP_WINE=/path/to/wine64 scripts/test-windows.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SMMAP_WIN64_BUILD:-$root/build-win64}
jobs=${SMMAP_JOBS:-2}
install_hint="apt-get install -y gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine wine64"

if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
    echo "test-windows: x86_64-w64-mingw32-gcc not found." >&2
    echo "  $install_hint" >&2
    exit 1
fi
# Debian's 64-bit loader is not on PATH (dpkg -L wine64).
wine=${SMMAP_WINE:-}
if [ -z "$wine" ]; then
    for candidate in /usr/lib/wine/wine64 /usr/lib/x86_64-linux-gnu/wine/wine64 \
                     "$(command -v wine64 || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            wine=$candidate
            break
        fi
    done
fi
if [ -z "$wine" ]; then
    echo "test-windows: no wine64 loader found." >&2
    echo "  $install_hint" >&2
    exit 1
fi
wineserver=$(dirname "$wine")/wineserver
[ -x "$wineserver" ] || wineserver=$(command -v wineserver || true)

WINEPREFIX=$(mktemp -d "${TMPDIR:-/tmp}/smmap-wine.XXXXXX")
export WINEPREFIX
export WINEDEBUG=-all
# No Mono or Gecko: the tests are console programs, and the installers would
# prompt or download.
export WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
    # -k kills every process of this prefix (our services too), and only
    # those: each prefix has its own server.
    if [ -n "$wineserver" ]; then
        "$wineserver" -k >/dev/null 2>&1 || true
        timeout 60 "$wineserver" -w >/dev/null 2>&1 || true
    fi
    rm -rf "$WINEPREFIX"
}
trap cleanup EXIT

echo "test-windows: creating the wine prefix in $WINEPREFIX (first start is slow)"
start=$(date +%s)
# wineboot reports a missing 32-bit rundll32 when wine32 is absent; only the
# 64-bit side is needed, and the check below is what counts.
timeout 600 "$wine" wineboot -i >/dev/null 2>&1 || true
# The registry files are written when the server exits: wait for it.
if [ -n "$wineserver" ]; then
    timeout 300 "$wineserver" -w >/dev/null 2>&1 || true
fi
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "test-windows: wineboot did not create the prefix" >&2
    exit 1
fi
# Keep one server for all the tests instead of one per .exe.
if [ -n "$wineserver" ]; then
    "$wineserver" -p >/dev/null 2>&1 || true
fi
# The first program of a prefix starts Wine's services (services.exe,
# winedevice.exe, rpcss.exe, ...), which inherit its stdout and stderr and
# live until the server stops. Were that program a test, ctest would wait for
# the end of its output pipe until the timeout. Start them here, on
# /dev/null.
timeout 300 "$wine" wineboot </dev/null >/dev/null 2>&1 || true
echo "test-windows: wine ready in $(( $(date +%s) - start )) s ($wine)"

rm -rf "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-mingw64.cmake" \
    -DCMAKE_CROSSCOMPILING_EMULATOR="$wine"
# Keep going past a target that does not build, so that every test that
# does build still runs and the counts below are complete.
. "$root/scripts/ctest-build-run.sh"
ctest_build_keep_going test-windows "$build" "$jobs"
ctest_tee "$build" "$build/ctest.log" --output-on-failure -j "$jobs" --timeout 300
ctest_counts test-windows "$build/ctest.log" || exit 1
ctest_verdict test-windows "test-windows (win64 under wine64):"
