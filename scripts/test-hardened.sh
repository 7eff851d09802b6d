#!/usr/bin/env bash
# test-hardened.sh - the whole C test suite (everything ctest holds) built
# as a Debian package builds it: the flags of dpkg-buildflags (-O2,
# -D_FORTIFY_SOURCE=2, -fstack-protector-strong, -Wformat
# -Werror=format-security, -z relro -z now with hardening=+all) on top of
# the project's -Wall -Wextra -Werror, build type None (as
# dh_auto_configure: no -DNDEBUG, so the asserts stay), in build-hardened/.
# _FORTIFY_SOURCE makes glibc mark calls like truncate() and write()
# warn_unused_result, which -Werror turns into errors: the build failing is
# the first thing this checks. Exits non-zero on any failure; never skips:
# a missing dpkg-buildflags is a failure that names the package to install.
#
#   scripts/test-hardened.sh
#   SMMAP_HARDENED_BUILD=/tmp/b scripts/test-hardened.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SMMAP_HARDENED_BUILD:-$root/build-hardened}
jobs=${SMMAP_JOBS:-$(nproc)}

if ! command -v dpkg-buildflags >/dev/null; then
    echo "test-hardened: dpkg-buildflags not found (apt-get install -y dpkg-dev)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
# From the source tree, as a package build runs it (-ffile-prefix-map).
cd "$root"
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
echo "test-hardened: CPPFLAGS=$CPPFLAGS"
echo "test-hardened: CFLAGS=$CFLAGS"
echo "test-hardened: LDFLAGS=$LDFLAGS"

rm -rf "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=None -DSMMAP_WERROR=ON \
    -DCMAKE_C_FLAGS="$CPPFLAGS $CFLAGS" \
    -DCMAKE_CXX_FLAGS="$CPPFLAGS $CXXFLAGS" \
    -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
    -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS" >/dev/null
# Every target (library, tool, benchmarks, every test) must build: a
# warning is an error here, so a failed build fails the script before any
# test runs.
. "$(dirname "${BASH_SOURCE[0]}")/ctest-build-run.sh"
ctest_build_run test-hardened "$build" "$jobs" "test-hardened (dpkg-buildflags, -Werror):"
