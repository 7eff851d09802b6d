#!/usr/bin/env bash
# test-m32.sh - the whole C test suite (everything ctest holds) built for a
# 32-bit process with gcc -m32, in build-m32/. This is where the address
# space, not the file, is the limit: tests/platform/test_large_file.c reads a
# 6 GiB file there. Exits non-zero on any failure; never skips: a missing
# 32-bit toolchain is a failure that names the package to install.
#
#   scripts/test-m32.sh            # build-m32/ next to the sources
#   SMMAP_M32_BUILD=/tmp/b scripts/test-m32.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SMMAP_M32_BUILD:-$root/build-m32}
jobs=${SMMAP_JOBS:-2}
export CC=${CC:-gcc} CXX=${CXX:-g++}
# Also in the environment, so that a nested configure (the install test's
# consumer project) and a direct compiler call that honours CFLAGS build
# 32-bit code too.
export CFLAGS="${CFLAGS:+$CFLAGS }-m32" CXXFLAGS="${CXXFLAGS:+$CXXFLAGS }-m32"

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int main(void) { return sizeof(void *) == 4 ? 0 : 1; }' > "$probe/p.c"
if ! "$CC" -m32 "$probe/p.c" -o "$probe/p" 2>"$probe/err" || ! "$probe/p"; then
    cat "$probe/err" >&2
    echo "test-m32: $CC -m32 cannot build and run a 32-bit program." >&2
    echo "  apt-get install -y gcc-multilib g++-multilib" >&2
    exit 1
fi
# The header's C++ test is part of the suite when a C++ compiler exists; it
# must then build in 32 bits too.
if command -v "$CXX" >/dev/null; then
    cp "$probe/p.c" "$probe/p.cpp"
    if ! "$CXX" -m32 "$probe/p.cpp" -o "$probe/pp" 2>"$probe/err"; then
        cat "$probe/err" >&2
        echo "test-m32: $CXX -m32 cannot build a 32-bit program." >&2
        echo "  apt-get install -y g++-multilib" >&2
        exit 1
    fi
fi

rm -rf "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS"
if ! grep -q 'CMAKE_C_SIZEOF_DATA_PTR "4"' \
        "$build"/CMakeFiles/*/CMakeCCompiler.cmake; then
    echo "test-m32: the configured compiler does not produce 32-bit code" >&2
    exit 1
fi
# Keep going past a target that does not build, so that every test that
# does build still runs and the counts below are complete; a test whose
# program is missing counts as failed, and so does the build.
keep_going=-k
[ "${CMAKE_GENERATOR:-}" = Ninja ] && keep_going="-k 0"
build_ok=1
# shellcheck disable=SC2086 # keep_going is one or two words
cmake --build "$build" -j "$jobs" -- $keep_going || build_ok=0
[ "$build_ok" = 1 ] || echo "test-m32: THE BUILD FAILED (see above); running what was built" >&2

log="$build/ctest.log"
set +e
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 600) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# ctest: "100% tests passed, 0 tests failed out of 23"
summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
if [ -z "$summary" ]; then
    echo "test-m32: ctest printed no summary (no tests?)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
[ "$build_ok" = 1 ] || echo "test-m32: the build failed (tests it did not build count as failed)"
echo "test-m32 (32-bit, gcc -m32):"
echo "$((total - failed)) passed, $failed failed"
[ "$build_ok" = 1 ] && [ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$total" -gt 0 ]
