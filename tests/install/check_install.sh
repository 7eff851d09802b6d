#!/usr/bin/env bash
# Install the library into a temporary prefix, then build and run a consumer
# against it twice: through CMake's find_package(smmap) and through
# pkg-config smmap. The prefix is one the dynamic loader does not search:
# a program linked with pkg-config's flags alone does not start there
# (libsmmap.so.0 not found), one linked with an rpath from
# `pkg-config --variable=libdir smmap` does, as the README says.
# Usage: check_install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The consumers are built with the compiler and flags of the build under
# test (musl-gcc, -m32...): a library built for another C library or word
# size does not link into the default compiler's programs.
cflags=$(sed -n 's/^CMAKE_C_FLAGS:STRING=//p' "$build/CMakeCache.txt")
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
# A toolchain file (cmake/toolchain-musl.cmake) sets the compiler without
# caching it; CMake's record of the compiler it used always has it.
[ -n "$cc" ] || cc=$(sed -n 's/^set(CMAKE_C_COMPILER "\(.*\)")$/\1/p' \
                       "$build"/CMakeFiles/*/CMakeCCompiler.cmake | head -1)
cc=${cc:-cc}
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/cmake/smmap | head -1)
libdir=${libdir%/cmake/smmap}

cmake -S "$src/tests/install" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cmake/consumer_shared"
"$tmp/cmake/consumer_static"
echo "find_package(smmap): shared and static consumers built and ran"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
test "$(pkg-config --modversion smmap)" = "$(sed -n 's/^project(smmap VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")"
"$cc" $cflags $(pkg-config --cflags smmap) "$src/tests/install/consumer.c" -o "$tmp/pc_shared" $(pkg-config --libs smmap)
LD_LIBRARY_PATH="$libdir" "$tmp/pc_shared"
# The README's rpath way: no LD_LIBRARY_PATH, no ldconfig.
"$cc" $cflags $(pkg-config --cflags smmap) "$src/tests/install/consumer.c" -o "$tmp/pc_rpath" \
   $(pkg-config --libs smmap) -Wl,-rpath,"$(pkg-config --variable=libdir smmap)"
env -u LD_LIBRARY_PATH "$tmp/pc_rpath"
# Where the programs are linked dynamically (not with musl-gcc -static):
# the rpath is the prefix's libdir, and without it the loader fails.
if readelf -d "$tmp/pc_shared" 2>/dev/null | grep -q 'NEEDED.*libsmmap\.so'; then
  # (smmap.pc is relocatable: its libdir is spelt from ${pcfiledir})
  rpath=$(readelf -d "$tmp/pc_rpath" | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]$/\1/p')
  [ -n "$rpath" ] && [ "$(realpath "$rpath")" = "$(realpath "$libdir")" ] ||
    { echo "pc_rpath: rpath '$rpath' is not $libdir" >&2; exit 1; }
  if env -u LD_LIBRARY_PATH "$tmp/pc_shared" >/dev/null 2>"$tmp/noload.err"; then
    echo "pc_shared started without LD_LIBRARY_PATH or rpath: is $libdir a system directory?" >&2
    exit 1
  fi
  grep -q 'libsmmap\.so' "$tmp/noload.err" || { cat "$tmp/noload.err" >&2; exit 1; }
  echo "pkg-config smmap: without an rpath the loader fails ($(head -1 "$tmp/noload.err" | sed 's/^.*: \(error while\)/\1/'))"
fi
"$cc" $cflags $(pkg-config --cflags smmap) "$src/tests/install/consumer.c" -o "$tmp/pc_static" \
   "$libdir/libsmmap.a" $(pkg-config --libs-only-other --static smmap) -lpthread
"$tmp/pc_static"
echo "pkg-config smmap: shared (LD_LIBRARY_PATH, rpath) and static consumers built and ran"
