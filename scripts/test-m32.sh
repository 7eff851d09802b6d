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
# does build still runs and the counts below are complete.
. "$root/scripts/ctest-build-run.sh"
ctest_build_keep_going test-m32 "$build" "$jobs"
ctest_tee "$build" "$build/ctest.log" --output-on-failure -j "$jobs" --timeout 600
ctest_counts test-m32 "$build/ctest.log" || exit 1
ctest_verdict test-m32 "test-m32 (32-bit, gcc -m32):"
